import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyResult, type CleanupPlan, planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { cleanupFixture } from '../helpers/fixtures.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { repositoryState } from '../helpers/registry-state.js';

let reg: RunningRegistry;
let proxy: FaultProxy;
let dir: string;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  dir = await mkdtemp(join(tmpdir(), 'regprune-resume-'));
});
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

const CHILD = join(import.meta.dirname, '../helpers/apply-child.ts');

/** Finished operations the journal records (`end` lines with status `done`). */
async function doneCount(journal: string): Promise<number> {
  const text = await readFile(journal, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.includes('"type":"end"') && l.includes('"done"')).length;
}

/**
 * Runs the apply child; with `killAfter`, kills it with SIGKILL as soon as the journal records
 * that many finished operations. Resolves with the child's result when it was not killed.
 */
async function runChild(
  planFile: string,
  journal: string,
  killAfter?: number,
): Promise<ApplyResult | 'killed'> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, proxy.url, planFile, journal, '2'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  let killed = false;
  if (killAfter !== undefined) {
    const watch = async () => {
      while (child.exitCode === null) {
        if ((await doneCount(journal)) >= killAfter) {
          killed = child.kill('SIGKILL');
          return;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await watch();
  }
  const code = await exited;
  if (killed) return 'killed';
  if (code !== 0) throw new Error(`apply child exited with ${code}: ${err}`);
  return JSON.parse(out) as ApplyResult;
}

/** Digest DELETEs the proxy saw for `repo` (probes excluded), from `log`. */
function digestDeletes(log: string[], repo: string): string[] {
  const re = new RegExp(`^DELETE /v2/${repo}/manifests/(sha256:[a-f0-9]{64})$`);
  return log
    .map((l) => re.exec(l)?.[1])
    .filter((d): d is string => d !== undefined && d !== `sha256:${'0'.repeat(64)}`);
}

describe('resume after kill -9 (real docker-registry 2.8, child processes)', () => {
  it('finishes the plan without repeating or skipping work; ends where a clean run ends', async () => {
    const fixture = { aliases: 3, drops: 16 };
    await cleanupFixture(reg, 'reference', fixture);
    await cleanupFixture(reg, 'resume', fixture);
    const client = new RegistryClient({ url: reg.url });
    const planOf = async (repo: string): Promise<CleanupPlan> =>
      planCleanup(await loadGraph(client, { repositories: [repo] }), [`${repo}:keep`]);
    const reference = await planOf('reference');
    const plan = await planOf('resume');
    expect(JSON.stringify(plan).replaceAll('resume', 'reference')).toBe(JSON.stringify(reference));
    const refResult = await applyPlan(client, reference);
    expect(refResult.totals).toMatchObject({ failed: 0, skipped: 0 });

    // Slow every destructive request so the kills land mid-run.
    proxy.setRules([
      {
        method: 'DELETE',
        path: /^\/v2\/resume\/manifests\/(?!sha256:0{64})/,
        nth: 'all',
        fault: { kind: 'delay', ms: 60 },
      },
      {
        method: 'PUT',
        path: /^\/v2\/resume\/manifests\//,
        nth: 'all',
        fault: { kind: 'delay', ms: 60 },
      },
    ]);
    const planFile = join(dir, 'plan.json');
    const journal = join(dir, 'resume.jsonl');
    await writeFile(planFile, JSON.stringify(plan));
    const total = plan.untag.length + plan.delete.length;
    expect(total).toBeGreaterThan(20);

    proxy.log.length = 0;
    expect(await runChild(planFile, journal, 2)).toBe('killed');
    const afterFirst = await doneCount(journal);
    expect(await runChild(planFile, journal, afterFirst + 10)).toBe('killed');
    const finishedBefore = await doneCount(journal);
    expect(finishedBefore).toBeLessThan(total);
    const logBeforeLast = proxy.log.length;
    const result = await runChild(planFile, journal);
    if (result === 'killed') throw new Error('not killed');

    // Every operation reported, none failed or skipped; earlier work is reported, not redone.
    expect(result.totals).toEqual({ done: total, skipped: 0, failed: 0, planned: 0 });
    const earlier = result.outcomes.filter((o) => o.reason?.includes('earlier run'));
    expect(earlier.length).toBeGreaterThan(0);
    const lastRun = digestDeletes(proxy.log.slice(logBeforeLast), 'resume');
    for (const outcome of earlier.filter((o) => o.action === 'delete'))
      expect(lastRun).not.toContain(outcome.id.split('@')[1]);
    // Across all three runs every digest was deleted exactly once: nothing repeated or skipped.
    const deletes = digestDeletes(proxy.log, 'resume');
    expect(deletes.length).toBe(new Set(deletes).size);
    for (const op of plan.delete) expect(deletes).toContain(op.image.split('@')[1]);

    expect(await repositoryState(reg, 'resume')).toEqual(await repositoryState(reg, 'reference'));
    proxy.setRules([]);
  });
});
