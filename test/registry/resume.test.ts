import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyResult, type CleanupPlan, planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import { readJournal } from '../../src/registry/journal.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { cleanupFixture } from '../helpers/fixtures.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { type RepositoryState, repositoryState } from '../helpers/registry-state.js';
import { pullsCompletely } from '../helpers/skopeo.js';

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
const PROBE = `sha256:${'0'.repeat(64)}`;
/** How an outcome the journal records as done is reported. */
const EARLIER_RUN = 'done by an earlier run';

async function planOf(client: RegistryClient, repo: string): Promise<CleanupPlan> {
  return planCleanup(await loadGraph(client, { repositories: [repo] }), [`${repo}:keep`]);
}

/** The fixture in `repo`, applied without interruption: the state every resumed run must reach. */
async function cleanState(
  repo: string,
  fixture: { aliases: number; drops: number },
): Promise<RepositoryState> {
  await cleanupFixture(reg, repo, fixture);
  const client = new RegistryClient({ url: reg.url });
  const result = await applyPlan(client, await planOf(client, repo));
  expect(result.totals).toMatchObject({ failed: 0, skipped: 0 });
  return repositoryState(reg, repo);
}

/** Plan operations (`untag <tag>` / `delete <image>`) a journal records as done. */
async function finishedIn(journal: string): Promise<Set<string>> {
  const state = await readJournal(journal);
  const done = new Set<string>();
  for (const intent of state?.intents ?? [])
    if (intent.action !== 'rewrite' && state?.ends.get(intent.seq) === 'done')
      done.add(`${intent.action} ${intent.id}`);
  return done;
}

/** `METHOD path` of a request as fetch receives it from the client. */
function describeRequest(input: string | URL | Request, init?: RequestInit): string {
  const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
  const url = new URL(input instanceof Request ? input.url : String(input));
  return `${method} ${url.pathname}`;
}

const isDestructive = (request: string) => /^(PUT|DELETE) \/v2\/[^ ]+\/manifests\//.test(request);

/** Digests a request log DELETEs in `repo` (the delete-permission probe excluded). */
function digestDeletes(log: string[], repo: string): string[] {
  const re = new RegExp(`^DELETE /v2/${repo}/manifests/(sha256:[a-f0-9]{64})$`);
  return log.map((l) => re.exec(l)?.[1]).filter((d): d is string => d !== undefined && d !== PROBE);
}

describe('resume after kill -9 (real docker-registry 2.8, child processes)', () => {
  /**
   * Runs the apply child (one request at a time). With `killAt`, the proxy holds the child's
   * `killAt`-th digest DELETE (never forwarded) and the child is killed with SIGKILL once it is
   * held: its intent is on disk, the request never reached the registry. Resolves with the
   * child's result when it was not killed.
   */
  async function runChild(
    repo: string,
    planFile: string,
    journal: string,
    killAt?: number,
  ): Promise<ApplyResult | 'killed'> {
    proxy.injected.length = 0;
    proxy.setRules(
      killAt === undefined
        ? []
        : [
            {
              method: 'DELETE',
              path: new RegExp(`^/v2/${repo}/manifests/sha256:(?!0{64})`),
              nth: [killAt],
              fault: { kind: 'stall', ms: 2_000 },
            },
          ],
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, proxy.url, planFile, journal, '1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
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
    if (killAt !== undefined) {
      // Waits for an event (the held request), not for time: the kill lands at the same point
      // however slow the machine is.
      while (child.exitCode === null && proxy.injected.length === 0)
        await new Promise((r) => setTimeout(r, 5));
      if (proxy.injected.length > 0) killed = child.kill('SIGKILL');
    }
    const code = await exited;
    if (killed) return 'killed';
    if (code !== 0) throw new Error(`apply child exited with ${code}: ${err}`);
    return JSON.parse(out) as ApplyResult;
  }

  it('finishes the plan without repeating or skipping work; ends where a clean run ends', async () => {
    const fixture = { aliases: 3, drops: 16 };
    const reference = await cleanState('reference', fixture);
    await cleanupFixture(reg, 'resume', fixture);
    const plan = await planOf(new RegistryClient({ url: reg.url }), 'resume');
    const planFile = join(dir, 'plan.json');
    const journal = join(dir, 'resume.jsonl');
    await writeFile(planFile, JSON.stringify(plan));
    const total = plan.untag.length + plan.delete.length;
    expect(total).toBeGreaterThan(20);

    proxy.log.length = 0;
    // Killed at the second placeholder DELETE (among the untags), then at the eighth digest
    // DELETE of the second run (among the deletes of the first wave).
    expect(await runChild('resume', planFile, journal, 2)).toBe('killed');
    const held = [proxy.injected[0]];
    const afterFirst = await finishedIn(journal);
    expect(await runChild('resume', planFile, journal, 8)).toBe('killed');
    held.push(proxy.injected[0]);
    const finishedBefore = await finishedIn(journal);
    expect(finishedBefore.size).toBeGreaterThan(afterFirst.size);
    expect(finishedBefore.size).toBeLessThan(total);
    const logBeforeLast = proxy.log.length;
    const result = await runChild('resume', planFile, journal);
    if (result === 'killed') throw new Error('not killed');

    // Every operation reported, none failed or skipped; exactly the journal's finished work is
    // reported as earlier work, and none of it is sent again.
    expect(result.totals).toEqual({ done: total, skipped: 0, failed: 0, planned: 0 });
    const earlier = result.outcomes.filter((o) => o.reason?.startsWith(EARLIER_RUN));
    expect(new Set(earlier.map((o) => `${o.action} ${o.id}`))).toEqual(finishedBefore);
    const lastRun = digestDeletes(proxy.log.slice(logBeforeLast), 'resume');
    for (const outcome of earlier.filter((o) => o.action === 'delete'))
      expect(lastRun).not.toContain(outcome.id.split('@')[1]);
    // The held requests never reached the registry; every other digest DELETE did, and across
    // the three runs none was sent twice and every planned digest was deleted.
    const log = [...proxy.log];
    for (const h of held) {
      expect(h).toMatch(/^stall DELETE /);
      const at = log.indexOf(h?.replace(/^stall /, '') ?? '');
      expect(at).toBeGreaterThanOrEqual(0);
      log.splice(at, 1);
    }
    const deletes = digestDeletes(log, 'resume');
    expect(deletes.length).toBe(new Set(deletes).size);
    for (const op of plan.delete) expect(deletes).toContain(op.image.split('@')[1]);

    expect(await repositoryState(reg, 'resume')).toEqual(reference);
    await pullsCompletely(reg.host, 'resume', 'keep');
  });
});

describe('resume from every kill point (real docker-registry 2.8, in-process)', () => {
  /**
   * A fetch for a run killed at its `at`-th PUT or DELETE of a manifest: at that instant the
   * journal is copied to `copy` (what a kill -9 leaves on disk), the request is sent or not
   * (`sent`), and from then on nothing reaches the registry. With one request at a time, every
   * earlier request has its answer and nothing else is in flight.
   */
  function killedFetch(at: number, sent: boolean, journal: string, copy: string) {
    let destructive = 0;
    let dead = false;
    const reached: string[] = [];
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      if (dead) throw new Error('killed');
      const request = describeRequest(input, init);
      if (isDestructive(request) && ++destructive === at) {
        copyFileSync(journal, copy);
        dead = true;
        if (sent) {
          await (await fetch(input, init)).arrayBuffer();
          reached.push(request);
        }
        throw new Error('killed');
      }
      const response = await fetch(input, init);
      reached.push(request);
      return response;
    }) as typeof fetch;
    return { fetchFn, reached, killed: () => dead };
  }

  const fixture = { aliases: 2, drops: 1 };
  let reference: RepositoryState;
  beforeAll(async () => {
    reference = await cleanState('points-reference', fixture);
  });

  // One registry round trip after another for every kill point: slow on a loaded machine, so
  // the timeout is generous (it bounds a hang, it does not measure speed).
  it.each([
    ['not sent', false],
    ['sent, answer lost', true],
  ])(
    'killed at any destructive request (%s), the run resumes to the clean end state',
    {
      timeout: 300_000,
    },
    async (_, sent) => {
      const rows: string[] = [];
      let points = 0;
      for (let at = 1; ; at++) {
        const repo = `points-${at}-${sent ? 'sent' : 'unsent'}`;
        const where = `killed at destructive request ${at} (${sent ? 'sent, answer lost' : 'not sent'})`;
        await cleanupFixture(reg, repo, fixture);
        const plan = await planOf(new RegistryClient({ url: reg.url }), repo);
        const journal = join(dir, `${repo}.jsonl`);
        const copy = join(dir, `${repo}.resume.jsonl`);
        const kill = killedFetch(at, sent, journal, copy);
        const killedClient = new RegistryClient({
          url: reg.url,
          fetch: kill.fetchFn,
          concurrency: 1,
          retry: 0,
        });
        await applyPlan(killedClient, plan, { journal }).catch(() => undefined);
        if (!kill.killed()) {
          // The run ended before this many destructive requests: every point was visited.
          expect(at, 'the plan has destructive requests to kill at').toBeGreaterThan(1);
          break;
        }
        points++;
        const finished = await finishedIn(copy);
        if (sent) {
          // The kill may also cut the write of the answer's line short.
          const cut = (await readJournal(copy))?.lastSeq ?? 0;
          appendFileSync(copy, `{"type":"end","seq":${cut},"sta`);
        }

        const log: string[] = [];
        const client = new RegistryClient({
          url: reg.url,
          fetch: (async (input: string | URL | Request, init?: RequestInit) => {
            log.push(describeRequest(input, init));
            return fetch(input, init);
          }) as typeof fetch,
        });
        const result = await applyPlan(client, plan, { journal: copy });
        rows.push(`${where}: ${JSON.stringify(result.totals)}`);

        // Every operation of the plan done once; nothing failed or skipped.
        const problems = result.outcomes.filter((o) => o.status !== 'done');
        expect(problems, where).toEqual([]);
        const ops = result.outcomes.filter((o) => o.action !== 'rewrite');
        expect(ops.map((o) => `${o.action} ${o.id}`).sort(), where).toEqual(
          [
            ...plan.untag.map((op) => `untag ${op.tag}`),
            ...plan.delete.map((op) => `delete ${op.image}`),
          ].sort(),
        );
        // Work the journal records as done is reported, not sent again.
        for (const o of ops) {
          if (!finished.has(`${o.action} ${o.id}`)) continue;
          expect(o.reason, where).toMatch(new RegExp(`^${EARLIER_RUN}`));
          if (o.action === 'delete')
            expect(log, where).not.toContain(`DELETE /v2/${repo}/manifests/${o.id.split('@')[1]}`);
          else expect(log, where).not.toContain(`PUT /v2/${repo}/manifests/${o.id.split(':')[1]}`);
        }
        // A digest DELETE that reached the registry before the kill is not sent again.
        const before = digestDeletes(kill.reached, repo);
        for (const digest of digestDeletes(log, repo)) expect(before, where).not.toContain(digest);

        // The registry ends where a clean run ends, and the kept tag pulls completely.
        expect(await repositoryState(reg, repo), where).toEqual(reference);
        await pullsCompletely(reg.host, repo, 'keep');

        // The journal still reads, and a further run finds nothing left to send.
        const again: string[] = [];
        const rerun = await applyPlan(
          new RegistryClient({
            url: reg.url,
            fetch: (async (input: string | URL | Request, init?: RequestInit) => {
              again.push(describeRequest(input, init));
              return fetch(input, init);
            }) as typeof fetch,
          }),
          plan,
          { journal: copy },
        );
        expect(
          rerun.outcomes.filter((o) => !o.reason?.startsWith(EARLIER_RUN)),
          where,
        ).toEqual([]);
        expect(again.filter(isDestructive), where).toEqual([
          `DELETE /v2/${repo}/manifests/${PROBE}`,
        ]);
      }
      // Probe, tag DELETE, placeholder PUT and DELETE per untag, the fallback index, the deletes.
      expect(points, rows.join('\n')).toBeGreaterThanOrEqual(12);
    },
  );
});
