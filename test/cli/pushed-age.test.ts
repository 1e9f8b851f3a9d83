/** `age: pushed` through the CLI's `--state FILE` on Debian's real docker-registry: two runs. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../helpers/cli.js';
import { pushImage } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { useTempDir } from '../helpers/temp-dir.js';

let reg: RunningRegistry;
const work = useTempDir('regprune-cli-pushed-');

beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

interface JsonPlan {
  delete: Array<{ image: string }>;
  warnings: Array<{ code: string }>;
  tagDecisions: Array<{ tag: string; kept: boolean; ageSource?: string; reason: string }>;
}

describe('plan --state FILE with age: pushed', () => {
  it('the first run records its time (--now) for every image; the second measures from it', async () => {
    const policy = join(work(), 'policy.yaml');
    await writeFile(policy, 'age: pushed\nrules:\n  - keepYoungerThan: 7d\n');
    const state = join(work(), 'state.json');
    // Both claim a build date of the day before the second run: only push times tell them apart.
    const created = '2024-05-31T00:00:00Z';
    const first = await pushImage(reg, 'cli/app', { tag: 'first', salt: 'first', created });
    const plan = async (now: string) => {
      const args = ['plan', reg.url, '--policy', policy, '--state', state, '--now', now];
      const run = await runCliProcess([...args, '--format', 'json']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      return JSON.parse(run.stdout) as JsonPlan;
    };

    const run1 = await plan('2024-05-01T00:00:00Z');
    expect(run1.warnings.map((w) => w.code)).toEqual(['AGE_SOURCE_UNAVAILABLE']);
    const saved = JSON.parse(await readFile(state, 'utf8')) as { firstSeen: object };
    expect(saved.firstSeen).toEqual({ [`cli/app@${first.digest}`]: '2024-05-01T00:00:00.000Z' });

    const second = await pushImage(reg, 'cli/app', { tag: 'second', salt: 'second', created });
    const run2 = await plan('2024-06-01T00:00:00Z');
    expect(run2.warnings).toEqual([]);
    expect(run2.delete.map((op) => op.image)).toEqual([`cli/app@${first.digest}`]);
    expect(run2.tagDecisions.find((d) => d.tag === 'cli/app:second')).toMatchObject({
      kept: true,
      ageSource: 'pushed',
      reason: 'rule 1 keepYoungerThan 7d (pushed 2024-06-01T00:00:00.000Z)',
    });
    expect(second.digest).toMatch(/^sha256:/);
  });
});
