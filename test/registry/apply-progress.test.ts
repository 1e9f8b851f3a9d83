/**
 * Progress of a registry apply: the referrers fallback-index rewrites it reports are operations
 * too, so `total` counts them (never `done > total`), and a progress callback that throws changes
 * no outcome: the apply stops between waves and rejects with the callback's error, as the layout
 * adapter does. Real docker-registry 2.8 (no referrers API: fallback tags are what it has).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';
import { type CleanupPlan, planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import { cleanEnv, ROOT, runCliInProcess } from '../helpers/cli.js';
import { fallbackTag, listTags, manifestStatus, pushImage, pushReferrer } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

let reg: RunningRegistry;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

type Event = {
  done: number;
  total: number;
  outcome: { action: string; id: string; status: string };
};

/** `repo:keep`, and `repo:drop` with an SBOM attached through the fallback tag. */
async function scenario(
  repo: string,
): Promise<{ client: RegistryClient; plan: CleanupPlan; dropDigest: string }> {
  await pushImage(reg, repo, { tag: 'keep', salt: `${repo}-keep` });
  const drop = await pushImage(reg, repo, { tag: 'drop', salt: `${repo}-drop` });
  await pushReferrer(reg, repo, drop, {
    artifactType: 'application/spdx+json',
    content: `${repo} sbom`,
  });
  const client = new RegistryClient({ url: reg.url });
  const graph = await loadGraph(client, { repositories: [repo] });
  const plan = planCleanup(graph, [`${repo}:keep`]);
  expect(plan.delete).toHaveLength(2);
  return { client, plan, dropDigest: drop.digest };
}

describe('registry apply progress', () => {
  it('total counts the fallback-index rewrites: done never exceeds total', async () => {
    const { client, plan, dropDigest } = await scenario('counted');
    const events: Event[] = [];
    const result = await applyPlan(client, plan, { onProgress: (e) => events.push(e) });
    expect(result.totals).toMatchObject({ failed: 0, done: 3 });
    expect(result.outcomes.map((o) => o.action).sort()).toEqual(['delete', 'delete', 'rewrite']);
    expect(events).toHaveLength(3);
    for (const e of events) expect(e.done).toBeLessThanOrEqual(e.total);
    expect(events.at(-1)).toMatchObject({ done: 3, total: 3 });
    expect(await listTags(reg, 'counted')).toEqual(['keep']);
    expect(await manifestStatus(reg, 'counted', dropDigest)).toBe(404);
    expect((await listTags(reg, 'counted')).includes(fallbackTag(dropDigest))).toBe(false);
  });

  it('once the run stopped, no fallback-index rewrite starts: the fallback tag stays, every operation is not attempted', async () => {
    const { client, plan, dropDigest } = await scenario('stopped');
    const stop = new AbortController();
    stop.abort();
    const result = await applyPlan(client, plan, { stop: stop.signal });
    expect(result.stopped).toBe(true);
    expect(result.outcomes.filter((o) => o.action === 'rewrite')).toEqual([]);
    expect(result.outcomes.map((o) => o.status)).toEqual(['skipped', 'skipped']);
    expect(await listTags(reg, 'stopped')).toContain(fallbackTag(dropDigest));
  });

  it('the dry run counts them too', async () => {
    const { client, plan } = await scenario('dry');
    const graph = await loadGraph(client, { repositories: ['dry'] });
    const events: Event[] = [];
    const result = await applyPlan(client, plan, {
      graph,
      dryRun: true,
      onProgress: (e) => events.push(e),
    });
    expect(result.outcomes.map((o) => o.action)).toContain('rewrite');
    for (const e of events) expect(e.done).toBeLessThanOrEqual(e.total);
    expect(events.at(-1)?.total).toBe(result.outcomes.length);
  });

  it('a progress callback that throws changes no outcome: the apply stops and rejects with its error; a rerun finishes', async () => {
    const { client, plan, dropDigest } = await scenario('throwing');
    const events: Event[] = [];
    const thrown = new Error('progress callback broke');
    const error = await applyPlan(client, plan, {
      onProgress: (e) => {
        events.push(structuredClone(e));
        throw thrown;
      },
    }).catch((e: unknown) => e);
    expect(error).toBe(thrown);
    // Each operation reported once, as it went: nothing done is reported again as failed.
    const ids = events.map((e) => `${e.outcome.action} ${e.outcome.id}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.filter((e) => e.outcome.status !== 'done')).toEqual([]);
    for (const e of events) expect(e.done).toBeLessThanOrEqual(e.total);
    // Stopped between waves: the subject (second wave) is still there, and a rerun deletes it.
    expect(await manifestStatus(reg, 'throwing', dropDigest)).toBe(200);
    const rest = await applyPlan(client, plan);
    expect(rest.totals.failed).toBe(0);
    expect(await manifestStatus(reg, 'throwing', dropDigest)).toBe(404);
    expect(await listTags(reg, 'throwing')).toEqual(['keep']);
  });
});

describe('CLI progress bar', () => {
  it('a registry apply with a fallback-index rewrite, progress drawn on a terminal: exit 0, nothing failed', async () => {
    const { dropDigest } = await scenario('cli');
    const run = await runCliInProcess(
      ['apply', reg.url, '--repo', 'cli', '--keep', 'cli:keep', '--yes', '--format', 'json'],
      { stderrIsTTY: true },
    );
    expect(run.stderr).not.toMatch(/RangeError/);
    expect(run.code).toBe(0);
    const { result } = JSON.parse(run.stdout) as {
      result: { totals: { done: number; failed: number } };
    };
    expect(result.totals).toMatchObject({ done: 3, failed: 0 });
    expect(await manifestStatus(reg, 'cli', dropDigest)).toBe(404);
  });

  it('never throws when done exceeds total, or total is 0', () => {
    let written = '';
    const progress = createProgress({
      stdout: () => {},
      stderr: (t) => {
        written += t;
      },
      stdin: (async function* () {})(),
      env: cleanEnv(),
      stdinIsTTY: false,
      stderrIsTTY: true,
      cwd: ROOT,
    });
    const outcome = { action: 'rewrite' as const, id: 'app:sha256-x', status: 'done' as const };
    expect(() => progress.apply({ done: 3, total: 2, outcome })).not.toThrow();
    expect(() => progress.apply({ done: 1, total: 0, outcome })).not.toThrow();
    expect(() =>
      progress.load({
        phase: 'done',
        repositories: { done: 2, total: 1 },
        tags: { done: 5, total: 4 },
        manifests: { done: 9, total: 3 },
      }),
    ).not.toThrow();
    progress.end();
    expect(written).toMatch(/3\/2/);
  });
});
