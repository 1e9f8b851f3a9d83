import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApplyResult,
  type CleanupPlan,
  type ImageGraph,
  planCleanup,
} from '../../src/index.js';
import { applyPlanTuned } from '../../src/registry/apply-plan.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import {
  getManifest,
  listTags,
  manifestStatus,
  pushImage,
  pushIndex,
  pushManifest,
  tagManifest,
} from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

/*
 * A tag pushed while `applyPlan` runs (issue 16). Everything here runs against the real
 * docker-registry 2.8. The pushes are made deterministic with a `fetch` hook on the apply's
 * client: it pushes (straight to the registry, not through the hook) at an exact point of the
 * apply's request sequence. The registry's two concurrent-push states are made for real in its
 * storage, as a PUT leaves them for a moment: a tag whose link file is still empty (a HEAD on it
 * answers 500) and a manifest revision whose link file is being rewritten (a DELETE of that
 * digest answers 400 DIGEST_INVALID and deletes nothing).
 */

let reg: RunningRegistry;

beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

function manifestsDir(repo: string): string {
  return join(reg.dataDir, 'docker/registry/v2/repositories', repo, '_manifests');
}

/** The plan keeping `keep`, with the graph it was made from (so apply reads no more than it must). */
async function planOf(repo: string, keep: string[]): Promise<CleanupPlan & { graph: ImageGraph }> {
  const client = new RegistryClient({ url: reg.url });
  const graph = await loadGraph(client, { repositories: [repo] });
  return {
    graph,
    ...planCleanup(
      graph,
      keep.map((t) => `${repo}:${t}`),
    ),
  };
}

/**
 * `keep` (kept, with `moving` on it and kept too when asked) and one planned image `old`: the
 * images and the plan.
 */
async function keepAndOld(repo: string, options: { moving?: boolean } = {}) {
  const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
  if (options.moving) await tagManifest(reg, repo, 'moving', keep.digest);
  const old = await pushImage(reg, repo, { tag: 'old', salt: 'old' });
  const plan = await planOf(repo, options.moving ? ['keep', 'moving'] : ['keep']);
  return { keep, old, plan };
}

/**
 * `keep` with `moving` on it (both kept) and two planned images `a` and `b`: the plan, and the
 * digests of its second (`target`) and first (`other`) deletion.
 */
async function twoPlannedAndMoving(repo: string) {
  const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
  await tagManifest(reg, repo, 'moving', keep.digest);
  for (const t of ['a', 'b']) await pushImage(reg, repo, { tag: t, salt: t });
  const plan = await planOf(repo, ['keep', 'moving']);
  const digestOf = (i: number) => plan.delete[i]?.image.split('@')[1] as string;
  return { plan, target: digestOf(1), other: digestOf(0) };
}

/** A promise and the function that settles it (for a hook to wait on another request). */
function signal(): [Promise<void>, () => void] {
  let fire: () => void = () => {};
  const fired = new Promise<void>((r) => {
    fire = r;
  });
  return [fired, fire];
}

type Hook = (
  method: string,
  path: string,
  phase: 'before' | 'after',
  status: number | undefined,
  /** The same number for one request's two calls: the hook can tell which request answered. */
  request: number,
) => Promise<void>;

/** A client whose requests pass `hook` before they are sent and after they are answered. */
function hookedClient(hook: Hook, log: string[] = []): RegistryClient {
  let requests = 0;
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
    const request = ++requests;
    await hook(method, path, 'before', undefined, request);
    const response = await fetch(input, init);
    log.push(`${method} ${path} ${response.status}`);
    await hook(method, path, 'after', response.status, request);
    return response;
  }) as typeof fetch;
  return new RegistryClient({ url: reg.url, fetch: fetchFn });
}

function outcomeOf(result: ApplyResult, id: string) {
  return result.outcomes.find((o) => o.id === id);
}

/**
 * Right before the DELETE of `digest` leaves, `fresh` is pushed onto it; the first list sent
 * after the push reads `fresh`, but its answer reaches the apply only 300 ms later (after the
 * DELETE took `fresh`). `state.phase` tells where that stands.
 */
function pushDuringDelete(repo: string, digest: string) {
  const state = { phase: 'idle' as 'idle' | 'pushed' | 'listed' | 'done' };
  const sentAfterPush = new Set<number>();
  const [read, listRead] = signal();
  const hook: Hook = async (method, path, when, _status, request) => {
    if (
      method === 'DELETE' &&
      path.endsWith(digest) &&
      when === 'before' &&
      state.phase === 'idle'
    ) {
      await tagManifest(reg, repo, 'fresh', digest);
      state.phase = 'pushed';
      await read;
    }
    // Only a list sent after the push counts: one sent before it and answered after did not read
    // `fresh`.
    if (!(method === 'GET' && path.endsWith('/tags/list'))) return;
    if (when === 'before' && state.phase === 'pushed') sentAfterPush.add(request);
    if (when === 'after' && state.phase === 'pushed' && sentAfterPush.has(request)) {
      state.phase = 'listed';
      listRead();
      await new Promise((r) => setTimeout(r, 300));
      state.phase = 'done';
    }
  };
  return { state, hook };
}

/** `fresh` points at `digest` again, pulls completely, and the image's outcome says so. */
async function expectFreshRestored(result: ApplyResult, repo: string, digest: string) {
  expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'fresh')).toBe(digest);
  await pullsCompletely(reg.host, repo, 'fresh');
  const outcome = outcomeOf(result, `${repo}@${digest}`);
  expect(outcome?.restored).toEqual([`${repo}:fresh`]);
  expect(outcome?.reason).toMatch(/^restored after concurrent push/);
}

describe('a tag pushed while apply runs survives (real docker-registry 2.8)', () => {
  it('a tag moved onto a planned image between the tag read and its DELETE is pushed back at once', async () => {
    const repo = 'window';
    const { old, plan } = await keepAndOld(repo, { moving: true });
    expect(plan.delete.map((op) => op.image)).toEqual([`${repo}@${old.digest}`]);

    // Right before the DELETE of `old` leaves (after every tag read of the apply), someone
    // moves `moving` onto it: the DELETE takes `moving` with it.
    let pushed = false;
    const client = hookedClient(async (method, path, phase) => {
      if (phase === 'before' && method === 'DELETE' && path.endsWith(old.digest) && !pushed) {
        pushed = true;
        await tagManifest(reg, repo, 'moving', old.digest);
      }
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(pushed).toBe(true);

    expect(await listTags(reg, repo)).toEqual(['keep', 'moving']);
    const now = await new RegistryClient({ url: reg.url }).resolve(repo, 'moving');
    expect(now).toBe(old.digest);
    await pullsCompletely(reg.host, repo, 'moving');
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.restored).toEqual([`${repo}:moving`]);
    expect(outcome?.reason).toMatch(/^restored after concurrent push/);
    expect(outcome?.status).toBe('skipped');
    // `old` went with the DELETE as planned; only the pushed tag comes back.
    expect(await manifestStatus(reg, repo, 'old')).toBe(404);
  });

  it('a new tag pushed onto a planned image after the tag read before its DELETE is pushed back (the list sent along with the DELETE saw it)', async () => {
    const repo = 'window-new';
    const { old, plan } = await keepAndOld(repo);
    // The interleaving the list sent along with the DELETE is for: after the read before the
    // DELETE, someone pushes `fresh` onto `old`; the registry lists the tags for that list
    // while the DELETE has not yet scanned them; then the DELETE takes `fresh` with it.
    // The DELETE leaves once a list sent after the push showed `fresh` and its read was answered
    // (whenever the lists are sent, however slow the machine).
    let pushed: Promise<void> | undefined;
    const [witness, witnessed] = signal();
    const client = hookedClient(async (method, path, phase, status) => {
      if (method === 'DELETE' && path.endsWith(old.digest) && phase === 'before' && !pushed) {
        pushed = tagManifest(reg, repo, 'fresh', old.digest);
        await pushed;
        await witness;
      }
      if (pushed && phase === 'after' && path.endsWith('/manifests/fresh') && status === 200)
        witnessed();
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(pushed).toBeDefined();
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'fresh')).toBe(old.digest);
    expect(await listTags(reg, repo)).toEqual(['fresh', 'keep']);
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.restored).toEqual([`${repo}:fresh`]);
    expect(outcome?.reason).toMatch(/^restored after concurrent push/);
  });

  it('while a slow DELETE is in flight the tags are listed about every 25 ms, not back to back and not never', async () => {
    const repo = 'paced';
    const { old, plan } = await keepAndOld(repo);
    // The DELETE takes 400 ms to reach the registry: the lists sent meanwhile are the ones that
    // would see a tag pushed onto `old` in that time.
    const HELD_MS = 400;
    let held: { from: number; to: number } | undefined;
    const listsAt: number[] = [];
    const client = hookedClient(async (method, path, phase) => {
      if (method === 'GET' && path.endsWith('/tags/list') && phase === 'before')
        listsAt.push(performance.now());
      if (method === 'DELETE' && path.endsWith(old.digest) && phase === 'before' && !held) {
        const from = performance.now();
        await new Promise((r) => setTimeout(r, HELD_MS));
        held = { from, to: performance.now() };
      }
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(outcomeOf(result, `${repo}@${old.digest}`)?.status).toBe('done');
    const span = held ? held.to - held.from : 0;
    const during = listsAt.filter((t) => held && t > held.from && t < held.to).length;
    // One every 25 ms is 16; timers and the lists' own round trips make it fewer, never more
    // (back to back it was 186; never listing, 0).
    expect(during).toBeGreaterThanOrEqual(3);
    expect(during).toBeLessThanOrEqual(span / 25 + 2);
  });

  it('no tag list is sent while no DELETE is in flight or waiting (here: the next wave waits for its bytes)', async () => {
    const repo = 'idle';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const children = [
      await pushImage(reg, repo, { salt: 'amd64' }),
      await pushImage(reg, repo, { salt: 'arm64', architecture: 'arm64' }),
    ];
    await pushIndex(reg, repo, { tag: 'multi', manifests: children });
    const plan = await planOf(repo, ['keep']);
    expect(plan.delete).toHaveLength(3);
    // The index goes in the first wave; its children (untagged: their bytes are fetched by digest
    // when their wave starts) in the second. Those GETs take 300 ms, with nothing in flight.
    const held: Array<{ from: number; to: number }> = [];
    const listsAt: number[] = [];
    const client = hookedClient(async (method, path, phase) => {
      if (method === 'GET' && path.endsWith('/tags/list') && phase === 'before')
        listsAt.push(performance.now());
      if (
        method === 'GET' &&
        phase === 'before' &&
        children.some((c) => path.endsWith(`/manifests/${c.digest}`))
      ) {
        const from = performance.now();
        await new Promise((r) => setTimeout(r, 300));
        held.push({ from, to: performance.now() });
      }
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(result.outcomes.filter((o) => o.status === 'done')).toHaveLength(3);
    expect(held).toHaveLength(2);
    const from = Math.min(...held.map((h) => h.from)) + 10;
    const to = Math.max(...held.map((h) => h.to)) - 10;
    expect(listsAt.filter((t) => t > from && t < to)).toEqual([]);
    // Lists were sent before and after: for the first wave, and for the children's DELETEs.
    expect(listsAt.filter((t) => t >= to).length).toBeGreaterThan(0);
  });

  it('a tag list in flight when a DELETE ends, showing a tag the DELETE then took, is answered before the list after the DELETE is sent: the tag is pushed back on that outcome', async () => {
    const repo = 'late-list';
    const { old, plan } = await keepAndOld(repo);
    // Right before the DELETE of `old` leaves, `fresh` is pushed onto it. A list sent while the
    // DELETE is held reads `fresh`, but its answer reaches the apply only 300 ms later: after the
    // DELETE took `fresh` and was answered.
    const { state, hook } = pushDuringDelete(repo, old.digest);
    const result = await applyPlan(hookedClient(hook), plan, { graph: plan.graph });
    expect(state.phase).toBe('done');
    await expectFreshRestored(result, repo, old.digest);
  });

  it("a tag list in flight when a DELETE ends, showing a tag the DELETE then took, is answered before the DELETE's outcome even when another DELETE's list is sent and answered meanwhile", async () => {
    const repo = 'late-list-two';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const first = await pushImage(reg, repo, { tag: 'a', salt: 'a' });
    const second = await pushImage(reg, repo, { tag: 'b', salt: 'b' });
    const plan = await planOf(repo, ['keep']);
    expect(plan.delete).toHaveLength(2);
    // As above for `first`. Meanwhile `second`'s DELETE answers 400 DIGEST_INVALID (its revision
    // link emptied, as a PUT of it does) twice: the first answer is let through once `first`'s
    // DELETE was answered, so that its retry's list is sent at once while the list showing
    // `fresh` is held, and answered first; the second once a list sent after the held one was
    // answered. Neither attempt deleted anything, so only `first` can have taken `fresh`: its
    // outcome must wait for the held list, which alone shows `fresh`, and push `fresh` back.
    const link = join(manifestsDir(repo), 'revisions/sha256', second.digest.slice(7), 'link');
    let content = '';
    const { state, hook: pushing } = pushDuringDelete(repo, first.digest);
    const sentAfterHeld = new Set<number>();
    const sentWhileHeld: number[] = [];
    const [firstEnded, firstAnswered] = signal();
    const [heldSeen, heldAnswered] = signal();
    let secondAttempts = 0;
    const client = hookedClient(async (method, path, when, status, request) => {
      await pushing(method, path, when, status, request);
      if (method === 'DELETE' && path.endsWith(first.digest) && when === 'after') firstAnswered();
      if (method === 'DELETE' && path.endsWith(second.digest)) {
        if (when === 'before' && ++secondAttempts === 1) {
          content = await readFile(link, 'utf8');
          await writeFile(link, '');
        }
        if (when === 'after' && secondAttempts === 1) await firstEnded;
        if (when === 'after' && secondAttempts === 2) {
          await writeFile(link, content);
          await heldSeen;
        }
      }
      if (!(method === 'GET' && path.endsWith('/tags/list')) || when !== 'before') {
        if (sentAfterHeld.has(request) && when === 'after') heldAnswered();
        return;
      }
      if (state.phase === 'listed') sentWhileHeld.push(request);
      if (state.phase === 'done') sentAfterHeld.add(request);
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(state.phase).toBe('done');
    expect(secondAttempts).toBe(3);
    // The scenario happened: another list was sent while the one showing `fresh` was held.
    expect(sentWhileHeld.length).toBeGreaterThan(0);
    await expectFreshRestored(result, repo, first.digest);
    expect(outcomeOf(result, `${repo}@${second.digest}`)?.status).toBe('done');
  });

  it('one DELETE per tag read (batch 1): a tag pushed onto a planned image before the tag read right before its DELETE saves it', async () => {
    const repo = 'early';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const a = await pushImage(reg, repo, { tag: 'a', salt: 'a' });
    const b = await pushImage(reg, repo, { tag: 'b', salt: 'b' });
    const plan = await planOf(repo, ['keep']);
    const [first, second] = plan.delete.map((op) => op.image.split('@')[1] as string);
    // While the first DELETE is answered (after every read before it), a new tag lands on the
    // second planned image: the tag read right before the second DELETE must see it.
    let pushed = false;
    const client = hookedClient(async (method, path, phase) => {
      if (phase === 'after' && method === 'DELETE' && path.endsWith(first as string) && !pushed) {
        pushed = true;
        await tagManifest(reg, repo, 'rescue', second as string);
      }
    });
    const result = await applyPlanTuned(client, plan, { graph: plan.graph }, { batch: 1 });
    expect(pushed).toBe(true);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'rescue')).toBe(second);
    expect(outcomeOf(result, `${repo}@${second}`)?.status).toBe('skipped');
    expect(outcomeOf(result, `${repo}@${second}`)?.reason).toMatch(
      /changed since plan: early:rescue/,
    );
    expect(outcomeOf(result, `${repo}@${first}`)?.status).toBe('done');
    expect([a.digest, b.digest]).toContain(second);
  });

  for (const when of ['first', 'later'] as const)
    it(`a tag whose link is still empty while it is pushed (its GET answers 500) is read again, not a failure (${when} tag read)`, async () => {
      const repo = `emptylink-${when}`;
      await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
      await pushImage(reg, repo, { tag: 'a', salt: 'a' });
      await pushImage(reg, repo, { tag: 'b', salt: 'b' });
      const plan = await planOf(repo, ['keep']);
      const [first, second] = plan.delete.map((op) => op.image.split('@')[1] as string) as [
        string,
        string,
      ];
      const fresh = join(manifestsDir(repo), 'tags/fresh');
      // A tag read finds `fresh` mid-push (its link file empty, as a PUT leaves it for a
      // moment): the first read of the apply (it GETs every tag), or a list after the first
      // DELETE (new names are read with a GET). Right after the registry answered that request,
      // the push completes, onto the second planned image.
      const method = 'GET';
      let torn = false;
      let answered = 0;
      const log: string[] = [];
      // Made elsewhere and renamed into place: a read in between mkdir and write would find no
      // link at all (404), not an empty one (the tag reads now also run while a DELETE is in flight).
      const tear = async () => {
        torn = true;
        const staged = join(manifestsDir(repo), '..', 'staged-fresh');
        await mkdir(join(staged, 'current'), { recursive: true });
        await writeFile(join(staged, 'current', 'link'), '');
        await rename(staged, fresh);
      };
      const client = hookedClient(async (m, path, phase) => {
        if (!torn && when === 'first' && phase === 'before' && path.endsWith('/tags/list'))
          await tear();
        if (
          !torn &&
          when === 'later' &&
          phase === 'after' &&
          m === 'DELETE' &&
          path.endsWith(first)
        )
          await tear();
        if (phase === 'after' && m === method && path.endsWith('/manifests/fresh')) {
          if (++answered === 1) {
            await rm(fresh, { recursive: true, force: true });
            await tagManifest(reg, repo, 'fresh', second);
          }
        }
      }, log);
      // One DELETE per tag read, so that there is a read after the first DELETE and before the second.
      const result = await applyPlanTuned(client, plan, { graph: plan.graph }, { batch: 1 });
      expect(log).toContain(`${method} /v2/${repo}/manifests/fresh 500`);
      expect(log).toContain(`${method} /v2/${repo}/manifests/fresh 200`);
      expect(result.totals.failed).toBe(0);
      expect(outcomeOf(result, `${repo}@${second}`)?.status).toBe('skipped');
      expect(outcomeOf(result, `${repo}@${second}`)?.reason).toMatch(
        new RegExp(`changed since plan: ${repo}:fresh`),
      );
      expect(outcomeOf(result, `${repo}@${first}`)?.status).toBe('done');
      expect(await manifestStatus(reg, repo, 'fresh')).toBe(200);
      expect(await manifestStatus(reg, repo, first)).toBe(404);
    });

  it('400 DIGEST_INVALID on a DELETE (a PUT of that manifest in progress) is retried after a new tag read', async () => {
    const repo = 'digestinvalid';
    const { old, plan } = await keepAndOld(repo);
    const link = join(manifestsDir(repo), 'revisions/sha256', old.digest.slice(7), 'link');
    const log: string[] = [];
    let deletes = 0;
    let content = '';
    const client = hookedClient(async (method, path, phase) => {
      if (method !== 'DELETE' || !path.endsWith(old.digest)) return;
      if (phase === 'before' && ++deletes === 1) {
        content = await readFile(link, 'utf8');
        await writeFile(link, '');
      }
      if (phase === 'after' && deletes === 1) await writeFile(link, content);
    }, log);
    const result = await applyPlan(client, plan, { graph: plan.graph });
    const attempts = log.filter((l) => l.startsWith(`DELETE /v2/${repo}/manifests/${old.digest}`));
    expect(attempts).toEqual([
      `DELETE /v2/${repo}/manifests/${old.digest} 400`,
      `DELETE /v2/${repo}/manifests/${old.digest} 202`,
    ]);
    // The tags are read again between the two attempts.
    const first = log.indexOf(attempts[0] as string);
    const second = log.indexOf(attempts[1] as string);
    expect(log.slice(first, second).some((l) => l.startsWith(`GET /v2/${repo}/tags/list`))).toBe(
      true,
    );
    expect(outcomeOf(result, `${repo}@${old.digest}`)?.status).toBe('done');
    expect(await manifestStatus(reg, repo, old.digest)).toBe(404);
    expect(await listTags(reg, repo)).toEqual(['keep']);
  });

  it('400 DIGEST_INVALID, then a retry that finds it unlinked with its tag left listed: the tag is cleaned up', async () => {
    const repo = 'digestinvalid2';
    const { old, plan } = await keepAndOld(repo);
    const link = join(manifestsDir(repo), 'revisions/sha256', old.digest.slice(7), 'link');
    const torn = join(manifestsDir(repo), 'tags/torn');
    const log: string[] = [];
    let deletes = 0;
    let content = '';
    // First DELETE: 400 DIGEST_INVALID (revision link being rewritten). Second: the tag scan
    // after the unlink trips over a tag being written (500), so the registry unlinks `old` but
    // leaves `old`'s tag listed; the client's retry then answers 404.
    const client = hookedClient(async (method, path, phase) => {
      if (method !== 'DELETE' || !path.endsWith(old.digest)) return;
      if (phase === 'before') {
        deletes++;
        if (deletes === 1) {
          content = await readFile(link, 'utf8');
          await writeFile(link, '');
        }
        if (deletes === 2) {
          await mkdir(join(torn, 'current'), { recursive: true });
          await writeFile(join(torn, 'current', 'link'), '');
        }
      } else {
        if (deletes === 1) await writeFile(link, content);
        if (deletes === 2) await rm(torn, { recursive: true, force: true });
      }
    }, log);
    const result = await applyPlan(client, plan, { graph: plan.graph });
    const attempts = log.filter((l) => l.startsWith(`DELETE /v2/${repo}/manifests/${old.digest}`));
    expect(attempts.map((l) => l.split(' ').at(-1))).toEqual(['400', '500', '404']);
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.status).toBe('done');
    expect(outcome?.reason).toMatch(/left listed pointing at nothing/);
    expect(await listTags(reg, repo)).toEqual(['keep']);
  });

  it('DELETEs sent together (the default): a new tag pushed onto one of them while in flight, listed meanwhile, is pushed back onto that very image', async () => {
    const repo = 'batch-new';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    for (const t of ['a', 'b', 'c']) await pushImage(reg, repo, { tag: t, salt: t });
    const plan = await planOf(repo, ['keep']);
    const target = plan.delete[1]?.image.split('@')[1] as string;
    // While the three DELETEs are in flight, someone pushes `fresh` onto the second; its DELETE
    // reaches the registry only once a tag list and a GET of `fresh` have been answered.
    let pushed: Promise<void> | undefined;
    const [seen, resolved] = signal();
    const log: string[] = [];
    const client = hookedClient(async (method, path, phase, status) => {
      if (method === 'DELETE' && path.endsWith(target) && phase === 'before' && !pushed) {
        pushed = tagManifest(reg, repo, 'fresh', target);
        await pushed;
        await seen;
      }
      if (pushed && method === 'GET' && path.endsWith('/manifests/fresh') && status === 200)
        resolved();
    }, log);
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(pushed).toBeDefined();
    // All three went out after one tag read.
    const deletes = log.filter((l) => l.startsWith('DELETE') && !l.includes('0000000000'));
    expect(deletes).toHaveLength(3);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'fresh')).toBe(target);
    expect(await listTags(reg, repo)).toEqual(['fresh', 'keep']);
    await pullsCompletely(reg.host, repo, 'fresh');
    const outcome = outcomeOf(result, `${repo}@${target}`);
    expect(outcome?.restored).toEqual([`${repo}:fresh`]);
    expect(outcome?.reason).toMatch(/^restored after concurrent push/);
    for (const op of plan.delete)
      if (!op.image.endsWith(target)) expect(outcomeOf(result, op.image)?.status).toBe('done');
  });

  it('DELETEs sent together: a known tag moved onto one of them is reported on each, not pushed back onto a guessed image', async () => {
    const repo = 'batch-moved';
    const { plan, target, other } = await twoPlannedAndMoving(repo);
    let moved = false;
    const [answered, targetAnswered] = signal();
    // The other DELETE is answered only after this one: both were in flight the whole time.
    const client = hookedClient(async (method, path, phase) => {
      if (method !== 'DELETE') return;
      if (path.endsWith(target) && phase === 'before' && !moved) {
        moved = true;
        await tagManifest(reg, repo, 'moving', target);
      }
      if (path.endsWith(target) && phase === 'after') targetAnswered();
      if (path.endsWith(other) && phase === 'after') await answered;
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(moved).toBe(true);
    // `moving` went with one of the two DELETEs; which one the registry does not tell.
    expect(await listTags(reg, repo)).toEqual(['keep']);
    for (const op of plan.delete) {
      const outcome = outcomeOf(result, op.image);
      expect(outcome?.reason).toMatch(
        new RegExp(`${repo}:moving vanished with one of the 2 images .* cannot be told`),
      );
      expect(outcome?.restored).toBeUndefined();
    }
    expect(await manifestStatus(reg, repo, 'a')).toBe(404);
    expect(await manifestStatus(reg, repo, 'b')).toBe(404);
  });

  it('DELETEs sent together: a known tag moved onto one of them is pushed back onto it when every other DELETE was answered before a tag list that still showed it', async () => {
    const repo = 'batch-moved-one';
    const { plan, target, other } = await twoPlannedAndMoving(repo);
    // `moving` is moved onto the target; its DELETE leaves only once the other DELETE was answered
    // and two tag lists after that were answered (the second one sent after the other's answer
    // was taken in): that list still shows `moving`, so only the target's DELETE can have taken it.
    let otherDone = false;
    let lists = 0;
    const [twoLists, listed] = signal();
    let moved = false;
    const client = hookedClient(async (method, path, phase) => {
      if (method === 'DELETE' && path.endsWith(other) && phase === 'after') otherDone = true;
      if (otherDone && method === 'GET' && path.endsWith('/tags/list') && phase === 'after')
        if (++lists === 2) listed();
      if (method === 'DELETE' && path.endsWith(target) && phase === 'before' && !moved) {
        moved = true;
        await tagManifest(reg, repo, 'moving', target);
        await twoLists;
      }
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(moved).toBe(true);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'moving')).toBe(target);
    await pullsCompletely(reg.host, repo, 'moving');
    const outcome = outcomeOf(result, `${repo}@${target}`);
    expect(outcome?.restored).toEqual([`${repo}:moving`]);
    expect(outcomeOf(result, `${repo}@${other}`)?.status).toBe('done');
    expect(outcomeOf(result, `${repo}@${other}`)?.reason ?? '').not.toMatch(/moving/);
  });

  it('a tag last read on an image deleted earlier that vanishes while another DELETE is in flight is reported on that outcome, not pushed back onto a guess', async () => {
    const repo = 'read-on-gone';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    for (const t of ['a', 'b']) await pushImage(reg, repo, { tag: t, salt: t });
    const plan = await planOf(repo, ['keep']);
    const [first, second] = plan.delete.map((op) => op.image.split('@')[1] as string) as [
      string,
      string,
    ];
    // One DELETE at a time. Once the first image's outcome is reported, someone pushes `later`
    // with the first image's bytes (which brings that manifest back) and, once the apply has read
    // `later` there, moves it onto the second image while that one's DELETE is held: the DELETE
    // takes it.
    const bytes = await getManifest(reg, repo, first);
    if (!bytes) throw new Error('the first image is missing');
    const [firstDone, firstReported] = signal();
    const [read, readThere] = signal();
    let moved = false;
    const client = hookedClient(async (method, path, phase, status) => {
      if (
        method === 'GET' &&
        path.endsWith('/manifests/later') &&
        phase === 'after' &&
        status === 200
      )
        readThere();
      if (method === 'DELETE' && path.endsWith(second) && phase === 'before' && !moved) {
        moved = true;
        await firstDone;
        await pushManifest(reg, repo, 'later', bytes.bytes, bytes.mediaType);
        await read;
        await tagManifest(reg, repo, 'later', second);
      }
    });
    const result = await applyPlanTuned(
      client,
      plan,
      {
        graph: plan.graph,
        onProgress: ({ outcome }) => {
          if (outcome.id === `${repo}@${first}`) firstReported();
        },
      },
      { batch: 1 },
    );
    expect(moved).toBe(true);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'later')).toBeUndefined();
    const outcome = outcomeOf(result, `${repo}@${second}`);
    expect(outcome?.reason).toMatch(
      new RegExp(
        `${repo}:later \\(last read on ${repo}@${first}, deleted earlier\\) vanished while this one was being deleted`,
      ),
    );
    expect(outcome?.restored).toBeUndefined();
  });

  it('a new tag left listed pointing at the image a DELETE just unlinked (the registry names it in its 404) is pushed back onto it', async () => {
    const repo = 'dangling-new';
    const { old, plan } = await keepAndOld(repo);
    // As a PUT leaves it when its revision link was written before the DELETE unlinked the
    // image and its tag link after the DELETE's tag scan: `late` listed, pointing at `old`.
    let made = false;
    const client = hookedClient(async (method, path, phase) => {
      if (method === 'DELETE' && path.endsWith(old.digest) && phase === 'after' && !made) {
        made = true;
        const staged = join(manifestsDir(repo), '..', 'staged-late');
        await mkdir(join(staged, 'current'), { recursive: true });
        await writeFile(join(staged, 'current', 'link'), old.digest);
        await rename(staged, join(manifestsDir(repo), 'tags/late'));
      }
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(made).toBe(true);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'late')).toBe(old.digest);
    await pullsCompletely(reg.host, repo, 'late');
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.restored).toEqual([`${repo}:late`]);
    expect(outcome?.status).toBe('skipped');
    expect(await manifestStatus(reg, repo, 'old')).toBe(404);
  });

  it('a DELETE whose answer was lost (retried: 404) counts as one that can have taken a tag: a known tag moved onto it is reported, never pushed onto another image', async () => {
    const repo = 'lost-answer';
    const { plan, target, other } = await twoPlannedAndMoving(repo);
    // `moving` is moved onto the target right before its DELETE; the registry deletes it (and
    // untags `moving`), but the answer is lost (a connection reset after the registry processed
    // it): the client's retry answers 404. The other DELETE is answered only after that retry.
    let attempts = 0;
    const [retry, retried] = signal();
    const client = hookedClient(async (method, path, phase) => {
      if (method !== 'DELETE') return;
      if (path.endsWith(target) && phase === 'before' && ++attempts === 1)
        await tagManifest(reg, repo, 'moving', target);
      if (path.endsWith(target) && phase === 'after') {
        if (attempts === 1) throw new TypeError('fetch failed (reset after the registry answered)');
        retried();
      }
      if (path.endsWith(other) && phase === 'after') await retry;
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(attempts).toBe(2);
    // Which of the two took `moving` cannot be told: it is not pushed onto either.
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'moving')).toBeUndefined();
    for (const op of plan.delete) {
      expect(outcomeOf(result, op.image)?.reason).toMatch(
        new RegExp(`${repo}:moving vanished with one of the 2 images .* cannot be told`),
      );
      expect(outcomeOf(result, op.image)?.restored).toBeUndefined();
    }
  });

  it('a known tag moved onto the only image being deleted, whose DELETE answer was lost (retried: 404), is reported on it, not pushed back', async () => {
    const repo = 'lost-answer-one';
    const { old, plan } = await keepAndOld(repo, { moving: true });
    // `moving` is moved onto `old` right before its DELETE; the registry deletes it (and untags
    // `moving`), but the answer is lost: the client's retry answers 404, which a DELETE that
    // never got through answers too. Whether it took `moving` cannot be told from the registry.
    let attempts = 0;
    const client = hookedClient(async (method, path, phase) => {
      if (method !== 'DELETE' || !path.endsWith(old.digest)) return;
      if (phase === 'before' && ++attempts === 1)
        await tagManifest(reg, repo, 'moving', old.digest);
      if (phase === 'after' && attempts === 1)
        throw new TypeError('fetch failed (reset after the registry answered)');
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(attempts).toBe(2);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'moving')).toBeUndefined();
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.reason).toMatch(
      new RegExp(
        `${repo}:moving vanished while this one was being deleted, which ended without a clean 202; whether it went with it cannot be told`,
      ),
    );
    expect(outcome?.restored).toBeUndefined();
  });

  it('a new tag left pointing at an image whose DELETE answered 500, then 404 on the retry, is pushed back onto it', async () => {
    const repo = 'dangling-after-500';
    const { old, plan } = await keepAndOld(repo);
    // `fresh` is being pushed onto `old` while its DELETE runs: its link file is still empty, so
    // the DELETE's tag scan fails (500) after unlinking `old`; then the push writes the link. The
    // client's retry answers 404, and `fresh` is left listed, pointing at the unlinked image.
    const fresh = join(manifestsDir(repo), 'tags/fresh');
    let n = 0;
    const log: string[] = [];
    const client = hookedClient(async (method, path, phase) => {
      if (method !== 'DELETE' || !path.endsWith(old.digest)) return;
      if (phase === 'before' && ++n === 1) {
        const staged = join(manifestsDir(repo), '..', 'staged-fresh');
        await mkdir(join(staged, 'current'), { recursive: true });
        await writeFile(join(staged, 'current', 'link'), '');
        await rename(staged, fresh);
      }
      if (phase === 'after' && n === 1) await writeFile(join(fresh, 'current', 'link'), old.digest);
    }, log);
    const result = await applyPlan(client, plan, { graph: plan.graph });
    const attempts = log.filter((l) => l.startsWith(`DELETE /v2/${repo}/manifests/${old.digest}`));
    expect(attempts.map((l) => l.split(' ').at(-1))).toEqual(['500', '404']);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'fresh')).toBe(old.digest);
    await pullsCompletely(reg.host, repo, 'fresh');
    expect(outcomeOf(result, `${repo}@${old.digest}`)?.restored).toEqual([`${repo}:fresh`]);
    // The image is there again (for `fresh`): no tag is left pointing at nothing.
    const check = new RegistryClient({ url: reg.url });
    for (const tag of await listTags(reg, repo))
      expect(await check.resolve(repo, tag)).toBeDefined();
  });

  it('a DELETE waits until every tag list answered before it has its new names read and re-checked, not only the list it waited for', async () => {
    const repo = 'caught-up';
    const { keep, old, plan } = await keepAndOld(repo);
    // The first list of the window shows `slowx` (on the kept image), whose GET is slow; the
    // DELETE waits for the list after it, which is answered at once but re-checked only after
    // `slowx`. Meanwhile the list after that shows `late`, pushed onto the planned image, whose
    // GET takes 600 ms. Released with its own list's re-check, the DELETE would leave before
    // `late` is read and take it with it; it must wait for `late` too, and then not go at all.
    // `slowx`'s read is held until the list showing `late` was answered (not for a fixed time), so
    // the order holds however slow the machine.
    let lists = 0;
    let lateList = 0;
    const [lateListed, lateWasListed] = signal();
    const log: string[] = [];
    const client = hookedClient(async (method, path, phase, _status, request) => {
      if (method === 'GET' && path.endsWith('/tags/list')) {
        if (phase === 'before') {
          lists++;
          if (lists === 2) await tagManifest(reg, repo, 'slowx', keep.digest);
          if (lists === 4) {
            await tagManifest(reg, repo, 'late', old.digest);
            lateList = request;
          }
        } else if (request === lateList) lateWasListed();
      }
      if (method === 'GET' && path.endsWith('/manifests/slowx') && phase === 'before')
        await lateListed;
      if (method === 'GET' && path.endsWith('/manifests/late') && phase === 'before')
        await new Promise((r) => setTimeout(r, 600));
    }, log);
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(lists).toBeGreaterThanOrEqual(4);
    expect(log.filter((l) => l.startsWith(`DELETE /v2/${repo}/manifests/${old.digest}`))).toEqual(
      [],
    );
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.status).toBe('skipped');
    expect(outcome?.reason).toMatch(new RegExp(`changed since plan: ${repo}:late`));
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'late')).toBe(old.digest);
    await pullsCompletely(reg.host, repo, 'late');
  });

  it('a listed name that cannot be read (its GET keeps answering 500) holds the DELETEs: nothing is deleted, the outcome says why', async () => {
    const repo = 'unreadable';
    const { old, plan } = await keepAndOld(repo);
    // After the first read, `torn` appears with an empty link file for the rest of the run (a
    // push that never finishes writing it): distribution answers 500 to every read of it.
    let lists = 0;
    const log: string[] = [];
    const client = hookedClient(async (method, path, phase) => {
      if (method === 'GET' && path.endsWith('/tags/list') && phase === 'before' && ++lists === 2) {
        const staged = join(manifestsDir(repo), '..', 'staged-torn');
        await mkdir(join(staged, 'current'), { recursive: true });
        await writeFile(join(staged, 'current', 'link'), '');
        await rename(staged, join(manifestsDir(repo), 'tags/torn'));
      }
    }, log);
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(log).toContain(`GET /v2/${repo}/manifests/torn 500`);
    expect(log.filter((l) => l.startsWith(`DELETE /v2/${repo}/manifests/${old.digest}`))).toEqual(
      [],
    );
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.status).toBe('failed');
    expect(outcome?.reason).toMatch(/500/);
    expect(await manifestStatus(reg, repo, 'old')).toBe(200);
  });

  it('a run-ending error on one DELETE (a 405 injected into the client, on top of the real registry) stops the others: those in flight end before applyPlan rejects, none is sent after', async () => {
    const repo = 'fatal-mid-window';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    for (let i = 0; i < 12; i++) await pushImage(reg, repo, { tag: `p${i}`, salt: `p${i}` });
    const plan = await planOf(repo, ['keep']);
    const log: string[] = [];
    const answered: string[] = [];
    let refused: string | undefined;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
      const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
      if (method === 'DELETE' && !path.includes('0000000000')) {
        refused ??= path;
        log.push(`${method} ${path}`);
        if (path === refused) {
          // Answered after the others left: they are in flight when the run must end.
          await new Promise((r) => setTimeout(r, 100));
          return new Response(
            JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'deletes disabled' }] }),
            { status: 405, headers: { 'content-type': 'application/json' } },
          );
        }
        await new Promise((r) => setTimeout(r, 50));
        const response = await fetch(input, init);
        answered.push(path);
        return response;
      }
      return fetch(input, init);
    }) as typeof fetch;
    const client = new RegistryClient({ url: reg.url, fetch: fetchFn });
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(applyPlan(client, plan, { graph: plan.graph })).rejects.toThrow(/405|delet/i);
      const sentBy = log.length;
      // The DELETEs in flight ended (and were reported) before the run rejected.
      expect(answered.length).toBe(sentBy - 1);
      await new Promise((r) => setTimeout(r, 500));
      expect(log.length).toBe(sentBy);
      // The rest never left.
      expect(sentBy).toBeLessThan(plan.delete.length);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    // Nothing but what was sent is gone.
    expect((await listTags(reg, repo)).length).toBeGreaterThanOrEqual(13 - log.length);
  });

  it('a listed name that does not resolve yet (its push has written the index link, not the tag link) holds the DELETE until it does, and then saves the image', async () => {
    const repo = 'young';
    const { old, plan } = await keepAndOld(repo);
    // Right before the window's first list, `slow` is half pushed onto `old`: distribution lists
    // it (its index link is there) but answers 404 to it. Once it was read twice as 404 (not after
    // a fixed time, so the order holds however slow the machine) the push writes its link.
    const slow = join(manifestsDir(repo), 'tags/slow');
    let lists = 0;
    let missing = 0;
    let finished: Promise<void> | undefined;
    const log: string[] = [];
    const client = hookedClient(async (method, path, phase, status) => {
      if (method === 'GET' && path.endsWith('/tags/list') && phase === 'before' && ++lists === 2) {
        const index = join(slow, 'index/sha256', old.digest.slice(7));
        await mkdir(index, { recursive: true });
        await writeFile(join(index, 'link'), old.digest);
      }
      if (
        path.endsWith('/manifests/slow') &&
        phase === 'after' &&
        status === 404 &&
        ++missing === 2
      )
        finished = (async () => {
          await mkdir(join(slow, 'current'), { recursive: true });
          await writeFile(join(slow, 'current', 'link'), old.digest);
        })();
    }, log);
    const result = await applyPlan(client, plan, { graph: plan.graph });
    await finished;
    expect(log).toContain(`GET /v2/${repo}/manifests/slow 404`);
    expect(log.filter((l) => l.startsWith(`DELETE /v2/${repo}/manifests/${old.digest}`))).toEqual(
      [],
    );
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.status).toBe('skipped');
    expect(outcome?.reason).toMatch(new RegExp(`changed since plan: ${repo}:slow`));
    await pullsCompletely(reg.host, repo, 'slow');
  });

  it('a push-back never overwrites a tag someone pushed again meanwhile', async () => {
    const repo = 'pushed-again';
    const { keep, old, plan } = await keepAndOld(repo, { moving: true });
    // `moving` is moved onto `old` right before its DELETE, which takes it. Once two tag lists
    // answered after that show it gone, its owner pushes it onto `keep` again, before the apply
    // gets to push it back.
    let moved = false;
    let listsAfter = -1;
    const [gone, seenGone] = signal();
    const client = hookedClient(async (method, path, phase) => {
      if (method === 'DELETE' && path.endsWith(old.digest) && phase === 'before' && !moved) {
        moved = true;
        await tagManifest(reg, repo, 'moving', old.digest);
      }
      if (method === 'DELETE' && path.endsWith(old.digest) && phase === 'after' && moved) {
        listsAfter = 0;
        await gone;
        await tagManifest(reg, repo, 'moving', keep.digest);
      }
      if (method === 'GET' && path.endsWith('/tags/list') && phase === 'after' && listsAfter >= 0)
        if (++listsAfter === 2) seenGone();
    });
    const result = await applyPlan(client, plan, { graph: plan.graph });
    expect(moved).toBe(true);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'moving')).toBe(keep.digest);
    const outcome = outcomeOf(result, `${repo}@${old.digest}`);
    expect(outcome?.restored).toBeUndefined();
    expect(outcome?.reason).toMatch(new RegExp(`${repo}:moving went with it but was pushed again`));
    expect(await manifestStatus(reg, repo, 'old')).toBe(404);
  });

  it('two applies of the same plan list their results in the same (plan) order', async () => {
    const results: ApplyResult[] = [];
    for (const repo of ['order1', 'order2']) {
      await pushImage(reg, repo, { tag: 'keep', salt: 'keep', layers: ['keep'] });
      for (let i = 0; i < 6; i++)
        await pushImage(reg, repo, { tag: `drop-${i}`, salt: `d${i}`, layers: [`d${i}`] });
      const plan = await planOf(repo, ['keep']);
      // Answers come back in a different order each run: slow down a different DELETE.
      const slow = plan.delete[repo === 'order1' ? 0 : 5]?.image.split('@')[1] as string;
      const client = hookedClient(async (method, path, phase) => {
        if (phase === 'after' && method === 'DELETE' && path.endsWith(slow))
          await new Promise((r) => setTimeout(r, 50));
      });
      const result = await applyPlan(client, plan, { graph: plan.graph });
      expect(result.outcomes.map((o) => o.id)).toEqual(plan.delete.map((op) => op.image));
      results.push(result);
    }
    const strip = (r: ApplyResult) =>
      r.outcomes.map((o) => `${o.action} ${o.status} ${o.id.split('@')[1]}`);
    expect(strip(results[0] as ApplyResult)).toEqual(strip(results[1] as ApplyResult));
  });

  it('a dry run lists the tag list sent right before each DELETE and the list after it', async () => {
    const repo = 'dryrace';
    const { old, plan } = await keepAndOld(repo);
    const result = await applyPlan(new RegistryClient({ url: reg.url }), plan, {
      graph: plan.graph,
      dryRun: true,
    });
    const requests = outcomeOf(result, `${repo}@${old.digest}`)?.requests ?? [];
    const at = requests.indexOf(`DELETE /v2/${repo}/manifests/${old.digest}`);
    expect(at).toBeGreaterThan(0);
    // The window is the apply's own: (concurrency - 1) / 2, rounded down (3 at the default 8).
    expect(requests[at - 1]).toMatch(
      new RegExp(
        `^GET /v2/${repo}/tags/list sent after its turn came, right before its DELETE \\(at most 3 DELETEs .*only for tags not seen before`,
      ),
    );
    expect(requests[at + 1]).toMatch(
      new RegExp(`^GET /v2/${repo}/tags/list once after its DELETE was answered`),
    );
    const tuned = await applyPlan(new RegistryClient({ url: reg.url, concurrency: 3 }), plan, {
      graph: plan.graph,
      dryRun: true,
    });
    expect(outcomeOf(tuned, `${repo}@${old.digest}`)?.requests?.join('\n')).toMatch(
      /at most 1 DELETE of this repository in flight/,
    );
    expect(requests.join('\n')).toMatch(/PUT \/v2\/dryrace\/manifests\/<tag> with its bytes/);
  });
});
