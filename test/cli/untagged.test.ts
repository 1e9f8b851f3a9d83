/** `--storage` and `--state` end to end against Debian's real docker-registry, through a child process. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleanupPlan } from '../../src/core/plan-types.js';
import { runCliProcess } from '../helpers/cli.js';
import { pushImage } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

let reg: RunningRegistry;
let work: string;
beforeAll(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'regprune-cli-untagged-'));
});
afterAll(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Pushes `repo:latest` `times` times with different content; returns the digests, oldest first. */
async function pushLatest(repo: string, times: number, from = 0): Promise<string[]> {
  const digests: string[] = [];
  for (let i = from; i < from + times; i++) {
    digests.push((await pushImage(reg, repo, { tag: 'latest', salt: `build ${i}` })).digest);
  }
  return digests;
}

async function planJson(args: string[]): Promise<CleanupPlan> {
  const run = await runCliProcess(['plan', reg.host, ...args, '--format', 'json'], { cwd: work });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as CleanupPlan;
}

describe('regprune plan finds untagged manifests', () => {
  it('--storage DIR: the superseded builds of latest are planned for deletion', async () => {
    const [first, second, current] = await pushLatest('st/app', 3);
    const plan = await planJson([
      '--repo',
      'st/app',
      '--keep',
      'st/app:latest',
      '--storage',
      reg.dataDir,
    ]);
    expect(plan.delete.map((op) => op.image).sort()).toEqual(
      [`st/app@${first}`, `st/app@${second}`].sort(),
    );
    expect(plan.keep.map((k) => k.image)).toContain(`st/app@${current}`);
    // Without --storage the API shows only the tagged image.
    const blind = await planJson(['--repo', 'st/app', '--keep', 'st/app:latest']);
    expect(blind.delete).toEqual([]);
  });

  it('--state FILE: a later run finds what lost its tag since the earlier one', async () => {
    const [first] = await pushLatest('mem/app', 1);
    const state = join(work, 'state.json');
    const firstPlan = await planJson([
      '--repo',
      'mem/app',
      '--keep',
      'mem/app:latest',
      '--state',
      'state.json',
    ]);
    expect(firstPlan.delete).toEqual([]);
    expect(await readFile(state, 'utf8')).toContain(`mem/app@${first}`);
    const [second] = await pushLatest('mem/app', 1, 1);
    const plan = await planJson([
      '--repo',
      'mem/app',
      '--keep',
      'mem/app:latest',
      '--state',
      'state.json',
    ]);
    expect(plan.delete.map((op) => op.image)).toEqual([`mem/app@${first}`]);
    expect(plan.keep.map((k) => k.image)).toContain(`mem/app@${second}`);
  });

  it('--storage on a layout is a usage error naming the option', async () => {
    const run = await runCliProcess(['plan', `oci:${work}`, '--keep', 'x', '--storage', work]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--storage/);
  });
});
