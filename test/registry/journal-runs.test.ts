/**
 * One undo journal across runs of different plans (issue 16 part 2): a run interrupted at any
 * destructive request, then a re-plan (a different plan: what the first run deleted is gone) run
 * with the same journal. The second run settles what the first left unfinished against the
 * registry, appends its own run line and ends where a clean run ends; restore undoes both runs.
 * Real docker-registry 2.8, in-process.
 */
import { copyFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CleanupPlan, NOT_ATTEMPTED_STOPPED, planCleanup } from '../../src/index.js';
import {
  applyPlan,
  JournalError,
  journalLeftovers,
  loadGraph,
  RegistryClient,
  restore,
} from '../../src/registry/index.js';
import { planDigest, readJournal } from '../../src/registry/journal.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { cleanupFixture } from '../helpers/fixtures.js';
import { listTags, pushImage, tagManifest } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { type RepositoryState, repositoryState } from '../helpers/registry-state.js';
import { pullsCompletely } from '../helpers/skopeo.js';

let reg: RunningRegistry;
let dir: string;

beforeAll(async () => {
  reg = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'regprune-journal-runs-'));
});
afterAll(async () => {
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Plans keeping only `keep`; with `journal`, also sees what its last run left untagged. */
async function planOf(
  client: RegistryClient,
  repo: string,
  journal?: string,
): Promise<CleanupPlan> {
  const extraDigests = journal ? await journalLeftovers(journal, client.url) : [];
  return planCleanup(await loadGraph(client, { repositories: [repo], extraDigests }), [
    `${repo}:keep`,
  ]);
}

function describeRequest(input: string | URL | Request, init?: RequestInit): string {
  const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
  const url = new URL(input instanceof Request ? input.url : String(input));
  return `${method} ${url.pathname}`;
}

const isDestructive = (request: string) => /^(PUT|DELETE) \/v2\/[^ ]+\/manifests\//.test(request);

/**
 * A fetch killed at its `at`-th manifest PUT or DELETE: the request is sent or not (`sent`), its
 * answer is lost, and from then on nothing reaches the registry (what Ctrl-C twice or a kill -9
 * leaves).
 */
function killedFetch(at: number, sent: boolean) {
  let destructive = 0;
  let dead = false;
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    if (dead) throw new Error('killed');
    const request = describeRequest(input, init);
    if (isDestructive(request) && ++destructive === at) {
      dead = true;
      if (sent) await (await fetch(input, init)).arrayBuffer();
      throw new Error('killed');
    }
    return fetch(input, init);
  }) as typeof fetch;
  return { fetchFn, killed: () => dead };
}

const fixture = { aliases: 2, drops: 2 };

describe('a journal whose last run is of another plan (real docker-registry 2.8)', () => {
  let reference: RepositoryState;
  beforeAll(async () => {
    await cleanupFixture(reg, 'runs-reference', fixture);
    const client = new RegistryClient({ url: reg.url });
    const result = await applyPlan(client, await planOf(client, 'runs-reference'));
    expect(result.totals).toMatchObject({ failed: 0, skipped: 0 });
    reference = await repositoryState(reg, 'runs-reference');
  });

  it.each([
    ['not sent', false],
    ['sent, answer lost', true],
  ])(
    'interrupted at any destructive request (%s), a re-plan with the same journal settles it, appends a run and ends clean; restore undoes both runs',
    { timeout: 600_000 },
    async (_, sent) => {
      let points = 0;
      for (let at = 1; ; at++) {
        const repo = `runs-${at}-${sent ? 'sent' : 'unsent'}`;
        const where = `killed at destructive request ${at} (${sent ? 'sent' : 'not sent'})`;
        await cleanupFixture(reg, repo, fixture);
        const before = await repositoryState(reg, repo);
        const client = new RegistryClient({ url: reg.url });
        const first = await planOf(client, repo);
        const journal = join(dir, `${repo}.jsonl`);
        const kill = killedFetch(at, sent);
        const killedClient = new RegistryClient({
          url: reg.url,
          fetch: kill.fetchFn,
          concurrency: 1,
          retry: 0,
        });
        await applyPlan(killedClient, first, { journal }).catch(() => undefined);
        if (!kill.killed()) {
          expect(at, 'the plan has destructive requests to kill at').toBeGreaterThan(1);
          break;
        }
        points++;

        // The same command again: it plans again (what the first run deleted is gone).
        const second = await planOf(client, repo, journal);
        const result = await applyPlan(client, second, { journal });
        expect(result.totals, where).toMatchObject({ failed: 0, skipped: 0 });
        expect(await repositoryState(reg, repo), where).toEqual(reference);
        await pullsCompletely(reg.host, repo, 'keep');

        const state = await readJournal(journal);
        const runs = state?.runs.map((r) => r.plan) ?? [];
        expect(runs.at(0), where).toBe(planDigest(first));
        expect(runs.at(-1), where).toBe(planDigest(second));
        if (planDigest(first) !== planDigest(second)) {
          expect(runs, where).toHaveLength(2);
          // What the first run left unfinished is settled, and says so.
          const open = (state?.intents ?? []).filter((i) => (state?.runOf.get(i.seq) ?? -1) === 0);
          expect(open.length, where).toBeGreaterThan(0);
        }
        // Every intent of either run has its end: a further run has nothing to settle.
        for (const intent of state?.intents ?? [])
          expect(state?.ends.has(intent.seq), `${where}: end of record ${intent.seq}`).toBe(true);

        // A journal copy is what the next week's run appends to; restore undoes both runs.
        copyFileSync(journal, `${journal}.copy`);
        const undone = await restore(client, journal);
        expect(
          undone.tags.filter((t) => t.status === 'conflict'),
          where,
        ).toEqual([]);
        expect((await repositoryState(reg, repo)).tags, where).toEqual(before.tags);
      }
      expect(points).toBeGreaterThan(4);
    },
  );

  it('a third run with another plan after a complete one appends again; nothing to settle', async () => {
    const repo = 'runs-weekly';
    await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    await pushImage(reg, repo, { tag: 'a', salt: 'a' });
    const client = new RegistryClient({ url: reg.url });
    const journal = join(dir, 'weekly.jsonl');
    expect((await applyPlan(client, await planOf(client, repo), { journal })).totals.done).toBe(1);
    await pushImage(reg, repo, { tag: 'b', salt: 'b' });
    const second = await applyPlan(client, await planOf(client, repo), { journal });
    expect(second.totals).toMatchObject({ done: 1, failed: 0, skipped: 0 });
    expect(second.notes.join('\n')).not.toMatch(/earlier run of another plan/);
    expect(await listTags(reg, repo)).toEqual(['keep']);
    expect((await readJournal(journal))?.runs).toHaveLength(2);
    await restore(client, journal);
    expect(await listTags(reg, repo)).toEqual(['a', 'b', 'keep']);
  });

  it('a journal of another registry is still refused before anything is sent', async () => {
    const repo = 'runs-other-registry';
    await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    await pushImage(reg, repo, { tag: 'a', salt: 'a' });
    const client = new RegistryClient({ url: reg.url });
    const journal = join(dir, 'other-registry.jsonl');
    await applyPlan(client, await planOf(client, repo), { journal });
    await pushImage(reg, repo, { tag: 'b', salt: 'b' });
    // The same storage behind another address is another registry to the journal.
    const proxy = await startFaultProxy(reg.url);
    const other = new RegistryClient({ url: proxy.url });
    const plan = planCleanup(await loadGraph(other, { repositories: [repo] }), [`${repo}:keep`]);
    const requests = other.requestCount;
    const error = await applyPlan(other, plan, { journal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalError);
    expect((error as Error).message).toMatch(/records a run against http:\/\/127\.0\.0\.1/);
    expect(other.requestCount).toBe(requests);
    expect(await listTags(reg, repo)).toEqual(['b', 'keep']);
    await proxy.stop();
  });

  it('restore undoes every run, newest first: a tag deleted in run 1, pushed again and deleted in run 2 gets its run-1 digest back', async () => {
    const repo = 'runs-twice';
    await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    const a = await pushImage(reg, repo, { tag: 't', salt: 'a' });
    const client = new RegistryClient({ url: reg.url });
    const journal = join(dir, 'twice.jsonl');
    await applyPlan(client, await planOf(client, repo), { journal });
    const b = await pushImage(reg, repo, { tag: 't', salt: 'b' });
    await pushImage(reg, repo, { tag: 'u', salt: 'u' });
    await applyPlan(client, await planOf(client, repo), { journal });
    expect(await listTags(reg, repo)).toEqual(['keep']);
    expect((await readJournal(journal))?.runs).toHaveLength(2);

    const result = await restore(client, journal);
    // Undoing run 2 brings back t at b and u; undoing run 1 then brings back t at a: the tag
    // ends where it was before the journal's first run, b stays in the registry by digest.
    expect(result.tags.filter((t) => t.status === 'conflict')).toEqual([]);
    expect(await listTags(reg, repo)).toEqual(['keep', 't', 'u']);
    expect(await client.resolve(repo, 't')).toBe(a.digest);
    expect(await client.resolve(repo, b.digest)).toBe(b.digest);
  });

  it('stop: fired before the run, nothing is sent after the probe; every operation is reported not attempted', async () => {
    const repo = 'runs-stop';
    await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    await tagManifest(reg, repo, 'alias', (await client0().resolve(repo, 'keep')) as string);
    await pushImage(reg, repo, { tag: 'a', salt: 'a' });
    const client = new RegistryClient({ url: reg.url });
    const plan = await planOf(client, repo);
    const stop = new AbortController();
    stop.abort();
    const journal = join(dir, 'stop.jsonl');
    const result = await applyPlan(client, plan, { journal, stop: stop.signal });
    expect(result.stopped).toBe(true);
    expect(result.outcomes.map((o) => [o.action, o.status, o.reason])).toEqual([
      ['untag', 'skipped', NOT_ATTEMPTED_STOPPED],
      ['delete', 'skipped', NOT_ATTEMPTED_STOPPED],
    ]);
    expect(await listTags(reg, repo)).toEqual(['a', 'alias', 'keep']);
    expect((await readJournal(journal))?.intents).toEqual([]);
    // The same plan and journal again, without stop: it finishes.
    const again = await applyPlan(client, plan, { journal });
    expect(again.stopped).toBeUndefined();
    expect(again.totals).toMatchObject({ done: 2, failed: 0, skipped: 0 });
    expect(await listTags(reg, repo)).toEqual(['keep']);
  });

  it('a DELETE that failed after the registry unlinked the manifest: the next run of another plan removes the tags it left pointing at nothing', async () => {
    const repo = 'runs-torn';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const drop = await pushImage(reg, repo, { tag: 'drop', salt: 'drop' });
    await tagManifest(reg, repo, 'drop-alias', drop.digest);
    // An empty tag link makes 2.8's tag scan fail after it unlinked the manifest, and the answer is
    // lost: what a registry crash in the middle of a DELETE leaves (a `failed` end, tags left).
    const torn = join(reg.dataDir, 'docker/registry/v2/repositories', repo, '_manifests/tags/torn');
    let tearing = true;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const tear =
        tearing && describeRequest(input, init) === `DELETE /v2/${repo}/manifests/${drop.digest}`;
      if (tear) {
        tearing = false;
        await mkdir(join(torn, 'current'), { recursive: true });
        await writeFile(join(torn, 'current', 'link'), '');
      }
      try {
        const response = await fetch(input, init);
        // The registry failed half way and the connection dropped (its process crashed).
        if (tear) throw new Error(`connection reset (answer ${response.status} lost)`);
        return response;
      } finally {
        if (tear) await rm(torn, { recursive: true, force: true });
      }
    }) as typeof fetch;
    const client = new RegistryClient({ url: reg.url });
    const journal = join(dir, 'torn.jsonl');
    const torner = new RegistryClient({ url: reg.url, fetch: fetchFn, retry: 0 });
    const first = await applyPlan(torner, await planOf(client, repo), { journal });
    expect(first.totals.failed).toBe(1);
    expect((await listTags(reg, repo)).sort()).toEqual(['drop', 'drop-alias', 'keep']);
    expect(await client.resolve(repo, 'drop')).toBeUndefined();

    await pushImage(reg, repo, { tag: 'next', salt: 'next' });
    const second = await applyPlan(client, await planOf(client, repo, journal), { journal });
    expect(second.totals).toMatchObject({ failed: 0, skipped: 0 });
    expect(second.notes.join('\n')).toMatch(
      /left unfinished or failed by an earlier run of another plan: the image is gone: recorded as done; its tags drop, drop-alias were left listed pointing at nothing: removed them/,
    );
    expect(await listTags(reg, repo)).toEqual(['keep']);
    // Settled once: a further run of yet another plan has nothing to settle.
    await pushImage(reg, repo, { tag: 'third', salt: 'third' });
    const third = await applyPlan(client, await planOf(client, repo, journal), { journal });
    expect(third.notes.join('\n')).not.toMatch(/earlier run of another plan/);
  });
});

const client0 = () => new RegistryClient({ url: reg.url });
