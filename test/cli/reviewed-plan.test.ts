/**
 * `regprune apply --plan FILE`: a plan reviewed earlier (saved with `plan --format json`) is applied
 * as it was reviewed, re-checked against Debian's real docker-registry as it is now.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../src/core/plan-file.js';
import type { CleanupPlan } from '../../src/core/plan-types.js';
import { runCliProcess } from '../helpers/cli.js';
import {
  listTags,
  manifestStatus,
  type PushedImage,
  pushImage,
  tagManifest,
} from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';
import { useTempDir } from '../helpers/temp-dir.js';

let reg: RunningRegistry;
let other: RunningRegistry;
const work = useTempDir('regprune-reviewed-plan-');

beforeAll(async () => {
  [reg, other] = await Promise.all([startRegistry(), startRegistry()]);
});
afterAll(async () => {
  await Promise.all([reg?.stop(), other?.stop()]);
});

/** `repo`: old-1 and old-2 (to be deleted) and keep (kept), each its own image. */
async function pushRepo(
  repo: string,
): Promise<{ old1: PushedImage; old2: PushedImage; kept: PushedImage }> {
  const old1 = await pushImage(reg, repo, { tag: 'old-1' });
  const old2 = await pushImage(reg, repo, { tag: 'old-2' });
  const kept = await pushImage(reg, repo, { tag: 'keep' });
  return { old1, old2, kept };
}

/** `regprune plan … --format json` saved to a file; returns the path and the parsed plan. */
async function savePlan(repo: string, name: string): Promise<{ file: string; plan: CleanupPlan }> {
  const run = await runCliProcess([
    'plan',
    reg.url,
    '--repo',
    repo,
    '--keep',
    `${repo}:keep`,
    '--format',
    'json',
  ]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const file = join(work(), name);
  await writeFile(file, run.stdout);
  return { file, plan: JSON.parse(run.stdout) as CleanupPlan };
}

interface Outcome {
  id: string;
  status: string;
  reason?: string;
}

/** `regprune apply <registry> --plan FILE --yes --format json`: the exit code and the outcomes. */
async function applySaved(file: string): Promise<{ code: number | null; outcomes: Outcome[] }> {
  const run = await runCliProcess(['apply', reg.url, '--plan', file, '--yes', '--format', 'json']);
  expect(run.stderr).not.toMatch(/^error: (?!partly applied)/m);
  const { result } = JSON.parse(run.stdout) as { result: { outcomes: Outcome[] } };
  return { code: run.code, outcomes: result.outcomes };
}

describe('plan --format json records where the plan came from', () => {
  it('origin names the target, the keep list, the repositories and when it was made', async () => {
    await pushRepo('origin/app');
    const { plan } = await savePlan('origin/app', 'origin.json');
    expect(plan.origin).toMatchObject({
      target: reg.url,
      basis: 'keep',
      keep: ['origin/app:keep'],
      repositories: ['origin/app'],
    });
    expect(Number.isNaN(Date.parse(plan.origin?.madeAt ?? ''))).toBe(false);
    // The saved plan reads back as itself.
    expect(parsePlan(JSON.stringify(plan))).toEqual(plan);
  });
});

describe('apply --plan FILE', () => {
  it('applies exactly the reviewed plan; the kept tag still pulls completely', async () => {
    const { old1, old2, kept } = await pushRepo('applied/app');
    const { file, plan } = await savePlan('applied/app', 'applied.json');
    expect(plan.delete.map((op) => op.image).sort()).toEqual(
      [`applied/app@${old1.digest}`, `applied/app@${old2.digest}`].sort(),
    );
    const { code, outcomes } = await applySaved(file);
    expect(code).toBe(0);
    expect(
      outcomes
        .filter((o) => o.status === 'done')
        .map((o) => o.id)
        .sort(),
    ).toEqual(plan.delete.map((op) => op.image).sort());
    expect(await listTags(reg, 'applied/app')).toEqual(['keep']);
    expect(await manifestStatus(reg, 'applied/app', kept.digest)).toBe(200);
    await pullsCompletely(reg.host, 'applied/app', 'keep');
  });

  it('a stale plan: a tag pushed onto a planned image since the review saves that image', async () => {
    const { old1, old2 } = await pushRepo('stale/app');
    const { file } = await savePlan('stale/app', 'stale.json');
    await tagManifest(reg, 'stale/app', 'rescued', old1.digest);
    const { code, outcomes } = await applySaved(file);
    expect(code).toBe(4);
    const saved = outcomes.find((o) => o.id === `stale/app@${old1.digest}`);
    expect(saved?.status).toBe('skipped');
    expect(saved?.reason).toMatch(/changed since plan: stale\/app:rescued/);
    expect(await manifestStatus(reg, 'stale/app', old1.digest)).toBe(200);
    expect(await manifestStatus(reg, 'stale/app', old2.digest)).toBe(404);
    await pullsCompletely(reg.host, 'stale/app', 'rescued');
  });

  it('a tampered plan that adds a kept image is re-checked: the kept image stays', async () => {
    const { old1, kept } = await pushRepo('tampered/app');
    const { file, plan } = await savePlan('tampered/app', 'tampered.json');
    const forged = {
      ...plan,
      delete: [...plan.delete, { image: `tampered/app@${kept.digest}`, tags: [], wave: 0 }],
    };
    await writeFile(file, JSON.stringify(forged));
    const { code, outcomes } = await applySaved(file);
    expect(code).toBe(4);
    const attempt = outcomes.find((o) => o.id === `tampered/app@${kept.digest}`);
    expect(attempt?.status).toBe('skipped');
    expect(attempt?.reason).toMatch(/tampered\/app:keep/);
    expect(await manifestStatus(reg, 'tampered/app', old1.digest)).toBe(404);
    await pullsCompletely(reg.host, 'tampered/app', 'keep');
  });

  it('--plan-sha256 refuses a file that differs from the reviewed one, and changes nothing', async () => {
    const { old1 } = await pushRepo('pinned/app');
    const { file, plan } = await savePlan('pinned/app', 'pinned.json');
    const reviewed = createHash('sha256')
      .update(JSON.stringify(plan, null, 2))
      .digest('hex');
    await writeFile(file, JSON.stringify(plan)); // same content, other bytes: not the reviewed file
    const run = await runCliProcess([
      'apply',
      reg.url,
      '--plan',
      file,
      '--plan-sha256',
      reviewed,
      '--yes',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`not the reviewed ${reviewed}`);
    expect(await manifestStatus(reg, 'pinned/app', old1.digest)).toBe(200);

    const pinned = createHash('sha256').update(JSON.stringify(plan)).digest('hex');
    const ok = await runCliProcess([
      'apply',
      reg.url,
      '--plan',
      file,
      '--plan-sha256',
      `sha256:${pinned}`,
      '--yes',
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(await manifestStatus(reg, 'pinned/app', old1.digest)).toBe(404);
  });

  it('a plan of another registry is refused, naming both, and nothing changes', async () => {
    const { old1 } = await pushRepo('elsewhere/app');
    const { file } = await savePlan('elsewhere/app', 'elsewhere.json');
    const run = await runCliProcess(['apply', other.url, '--plan', file, '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`made for ${reg.url}, not for ${other.url}`);
    expect(await manifestStatus(reg, 'elsewhere/app', old1.digest)).toBe(200);
  });

  it('a file that is not a plan is refused naming the file and the field', async () => {
    const file = join(work(), 'broken.json');
    await writeFile(
      file,
      JSON.stringify({ format: 'regprune.plan.v1', refused: null, untag: [], delete: [{}] }),
    );
    const run = await runCliProcess(['apply', reg.url, '--plan', file, '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${file}: not an applicable plan: delete[0].image: expected`);
    await writeFile(
      file,
      '{"format": "regprune.plan.v1", "keptTags": [], "untag": [], "delete": [{}]',
    );
    const notJson = await runCliProcess(['apply', reg.url, '--plan', file, '--yes']);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/plan: not JSON/);
  });

  it('--plan with --keep or --policy is a usage error', async () => {
    const run = await runCliProcess(['apply', reg.url, '--plan', 'x.json', '--keep', 'a:b']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--keep: cannot be combined with --plan');
  });
});
