import { copyFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CleanupPlan, planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient, restore } from '../../src/registry/index.js';
import { cleanupFixture } from '../helpers/fixtures.js';
import {
  listTags,
  manifestStatus,
  type PushedImage,
  pushImage,
  tagManifest,
} from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { type RepositoryState, repositoryState } from '../helpers/registry-state.js';
import { pullsCompletely } from '../helpers/skopeo.js';

/*
 * Distribution 2.8 deletes a manifest in two steps: it unlinks the revision, then scans every tag
 * of the repository for the ones pointing at it and removes them. The scan reads each tag's link
 * file; a tag being written at that moment (its link truncated, not yet rewritten) makes the
 * scan, and the DELETE, fail with 500 UNKNOWN after the unlink. The client retries the DELETE,
 * which now answers 404, and the tag stays listed, pointing at nothing. Concurrent untags (a
 * placeholder PUT on one tag while another placeholder is deleted) hit this now and then; here
 * the torn link is made on purpose in the registry's storage, for exactly one DELETE.
 */

let reg: RunningRegistry;
let dir: string;
let reference: RepositoryState;
const FIXTURE = { aliases: 1, drops: 1 };

async function planOf(repo: string): Promise<CleanupPlan> {
  const client = new RegistryClient({ url: reg.url });
  return planCleanup(await loadGraph(client, { repositories: [repo] }), [`${repo}:keep`]);
}

beforeAll(async () => {
  reg = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'regprune-race-'));
  await cleanupFixture(reg, 'reference', FIXTURE);
  const result = await applyPlan(new RegistryClient({ url: reg.url }), await planOf('reference'));
  expect(result.totals).toMatchObject({ failed: 0, skipped: 0 });
  reference = await repositoryState(reg, 'reference');
});
afterAll(async () => {
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A fetch that tears a tag link of `repo` while the registry handles the first digest DELETE
 * after the probe (the untag's placeholder; with `race.digest`, the DELETE of that digest), and
 * records every request with its status. `race.meanwhile` runs once that DELETE has its answer,
 * before the client sees it. With `killAfter`, the run is killed once that DELETE has its answer:
 * the journal is copied to `killAfter.copy` and nothing more is sent.
 */
function tearingFetch(
  repo: string,
  killAfter?: { journal: string; copy: string },
  race: { digest?: string; meanwhile?: () => Promise<void> } = {},
) {
  const torn = join(reg.dataDir, 'docker/registry/v2/repositories', repo, '_manifests/tags/torn');
  const log: string[] = [];
  let tearing = true;
  let dead = false;
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    if (dead) throw new Error('killed');
    const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
    const tear =
      tearing &&
      method === 'DELETE' &&
      /\/manifests\/sha256:/.test(path) &&
      !path.endsWith('0'.repeat(64)) &&
      (race.digest === undefined || path.endsWith(race.digest));
    if (tear) {
      tearing = false;
      await mkdir(join(torn, 'current'), { recursive: true });
      await writeFile(join(torn, 'current', 'link'), '');
    }
    try {
      const response = await fetch(input, init);
      log.push(`${method} ${path} ${response.status}${tear ? ' (torn)' : ''}`);
      if (tear && race.meanwhile) {
        await rm(torn, { recursive: true, force: true });
        await race.meanwhile();
      }
      if (tear && killAfter) {
        copyFileSync(killAfter.journal, killAfter.copy);
        dead = true;
        throw new Error('killed');
      }
      return response;
    } finally {
      if (tear) await rm(torn, { recursive: true, force: true });
    }
  }) as typeof fetch;
  return { fetchFn, log };
}

describe('untag when a tag write races the placeholder DELETE (real docker-registry 2.8)', () => {
  it('the tag is removed although the registry dropped the placeholder and failed (500)', async () => {
    await cleanupFixture(reg, 'race', FIXTURE);
    const plan = await planOf('race');
    const { fetchFn, log } = tearingFetch('race');
    const result = await applyPlan(new RegistryClient({ url: reg.url, fetch: fetchFn }), plan);

    // The registry really got into the state: 500 after unlinking, then 404 on the retry.
    const torn = log.findIndex((l) => l.endsWith('(torn)'));
    expect(log[torn]).toMatch(/^DELETE \/v2\/race\/manifests\/sha256:[a-f0-9]{64} 500 \(torn\)$/);
    expect(log[torn - 1]).toBe('PUT /v2/race/manifests/alias-0 201');
    const request = log[torn]?.split(' 500')[0] as string;
    // The retry is the next request for that same URL (other requests may come between).
    expect(log.slice(torn + 1).find((line) => line.startsWith(`${request} `))).toBe(
      `${request} 404`,
    );

    expect(result.totals).toMatchObject({ failed: 0, skipped: 0 });
    expect(await listTags(reg, 'race')).not.toContain('alias-0');
    expect(await repositoryState(reg, 'race')).toEqual(reference);
    await pullsCompletely(reg.host, 'race', 'keep');
  });

  it('a run killed right after that 500 is resumed and removes the tag left behind', async () => {
    await cleanupFixture(reg, 'race-kill', FIXTURE);
    const plan = await planOf('race-kill');
    const journal = join(dir, 'race-kill.jsonl');
    const copy = join(dir, 'race-kill.resume.jsonl');
    const { fetchFn, log } = tearingFetch('race-kill', { journal, copy });
    const killed = new RegistryClient({ url: reg.url, fetch: fetchFn, retry: 0 });
    await applyPlan(killed, plan, { journal }).catch(() => undefined);
    expect(log.at(-1)).toMatch(/ 500 \(torn\)$/);
    // Left listed, answering 404 like a removed tag.
    expect(await listTags(reg, 'race-kill')).toContain('alias-0');
    const client = new RegistryClient({ url: reg.url });
    expect(await client.resolve('race-kill', 'alias-0')).toBeUndefined();

    const result = await applyPlan(client, plan, { journal: copy });
    expect(result.totals).toMatchObject({ failed: 0, skipped: 0 });
    const untag = result.outcomes.find((o) => o.id === 'race-kill:alias-0');
    expect(untag?.reason).toContain('listed but pointing at nothing');
    expect(await listTags(reg, 'race-kill')).not.toContain('alias-0');
    expect(await repositoryState(reg, 'race-kill')).toEqual(reference);
    await pullsCompletely(reg.host, 'race-kill', 'keep');
  });

  it('a resumed run whose DELETE of the placeholder left on the tag fails so still removes the tag', async () => {
    await cleanupFixture(reg, 'race-left', FIXTURE);
    const plan = await planOf('race-left');
    const journal = join(dir, 'race-left.jsonl');
    // Killed just before the placeholder DELETE leaves: the placeholder sits on the tag.
    let dead = false;
    const killing = (async (input: string | URL | Request, init?: RequestInit) => {
      const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
      const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
      if (!dead && method === 'DELETE' && /\/manifests\/sha256:(?!0{64})/.test(path)) dead = true;
      if (dead) throw new Error('killed');
      return fetch(input, init);
    }) as typeof fetch;
    await applyPlan(new RegistryClient({ url: reg.url, fetch: killing, retry: 0 }), plan, {
      journal,
    }).catch(() => undefined);
    expect(dead).toBe(true);
    const direct = new RegistryClient({ url: reg.url });
    const placeholder = await direct.resolve('race-left', 'alias-0');
    expect(placeholder).toBeDefined();
    expect(placeholder).not.toBe(await direct.resolve('race-left', 'keep'));

    const { fetchFn, log } = tearingFetch('race-left');
    const result = await applyPlan(new RegistryClient({ url: reg.url, fetch: fetchFn }), plan, {
      journal,
    });
    expect(log).toContain(`DELETE /v2/race-left/manifests/${placeholder} 500 (torn)`);
    expect(result.totals).toMatchObject({ failed: 0, skipped: 0 });
    expect(await listTags(reg, 'race-left')).not.toContain('alias-0');
    expect(await repositoryState(reg, 'race-left')).toEqual(reference);
    await pullsCompletely(reg.host, 'race-left', 'keep');
  });
});

/**
 * `keep` (kept) and `drop`, built on it (shared layers), with the tags `drop`, `drop-alias` and
 * `moved`: the plan deletes `drop` and says those three tags go with it.
 */
async function deleteRaceFixture(repo: string): Promise<{ keep: PushedImage; drop: PushedImage }> {
  const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep', layers: ['keep layer'] });
  const drop = await pushImage(reg, repo, {
    tag: 'drop',
    salt: 'drop',
    parent: keep,
    layers: ['drop layer'],
  });
  await tagManifest(reg, repo, 'drop-alias', drop.digest);
  await tagManifest(reg, repo, 'moved', drop.digest);
  return { keep, drop };
}

async function deleteRacePlan(repo: string, drop: PushedImage): Promise<CleanupPlan> {
  const plan = await planOf(repo);
  expect(plan.untag).toEqual([]);
  expect(plan.delete.map((op) => [op.image, op.tags])).toEqual([
    [`${repo}@${drop.digest}`, [`${repo}:drop`, `${repo}:drop-alias`, `${repo}:moved`]],
  ]);
  return plan;
}

describe('planned image DELETE when a tag write races it (real docker-registry 2.8)', () => {
  it("the image's tags left listed pointing at nothing are removed; a tag pushed again meanwhile stays", async () => {
    const repo = 'delete-race';
    const { keep, drop } = await deleteRaceFixture(repo);
    const plan = await deleteRacePlan(repo, drop);
    let theirs: PushedImage | undefined;
    const { fetchFn, log } = tearingFetch(repo, undefined, {
      digest: drop.digest,
      // Someone else pushes `moved` to another image between the failed DELETE and its retry.
      meanwhile: async () => {
        theirs = await pushImage(reg, repo, { tag: 'moved', salt: 'theirs', layers: ['their'] });
      },
    });
    const result = await applyPlan(new RegistryClient({ url: reg.url, fetch: fetchFn }), plan);

    // The registry really got into the state: 500 after unlinking, then 404 on the retry.
    const torn = log.indexOf(`DELETE /v2/${repo}/manifests/${drop.digest} 500 (torn)`);
    expect(torn).toBeGreaterThan(-1);
    // The retry is the next DELETE of that digest (a tag list sent along with it may come between).
    const retry = log
      .slice(torn + 1)
      .find((line) => line.startsWith(`DELETE /v2/${repo}/manifests/${drop.digest} `));
    expect(retry).toBe(`DELETE /v2/${repo}/manifests/${drop.digest} 404`);

    // Every listed tag resolves (no dangling ones), the kept and the re-pushed tag intact.
    expect(await repositoryState(reg, repo)).toEqual({
      tags: { keep: keep.digest, moved: theirs?.digest },
      manifests: [keep.digest, theirs?.digest].sort(),
    });
    expect(result.totals).toMatchObject({ done: 1, failed: 0, skipped: 0 });
    const outcome = result.outcomes.find((o) => o.id === `${repo}@${drop.digest}`);
    expect(outcome?.status).toBe('done');
    expect(outcome?.reason).toContain(`${repo}:drop, ${repo}:drop-alias were left listed`);
    expect(outcome?.reason).toContain(`${repo}:moved now points at ${repo}@${theirs?.digest}`);
    expect(outcome?.requests).toContain(`PUT /v2/${repo}/manifests/drop (placeholder)`);
    expect(outcome?.requests).not.toContain(`PUT /v2/${repo}/manifests/moved (placeholder)`);

    expect(await manifestStatus(reg, repo, drop.digest)).toBe(404);
    await pullsCompletely(reg.host, repo, 'keep');
    await pullsCompletely(reg.host, repo, 'moved');
  });

  it('an image already gone, its tags left dangling, has them removed (with a journal)', async () => {
    const repo = 'delete-race-gone';
    const { keep, drop } = await deleteRaceFixture(repo);
    const plan = await deleteRacePlan(repo, drop);
    // The race happened outside regprune: a bare DELETE that failed (500) after the unlink.
    const { fetchFn } = tearingFetch(repo, undefined, { digest: drop.digest });
    const raced = await fetchFn(`${reg.url}/v2/${repo}/manifests/${drop.digest}`, {
      method: 'DELETE',
    });
    await raced.arrayBuffer();
    expect(raced.status).toBe(500);
    expect((await listTags(reg, repo)).sort()).toEqual(['drop', 'drop-alias', 'keep', 'moved']);
    expect(await new RegistryClient({ url: reg.url }).resolve(repo, 'drop')).toBeUndefined();

    // A dry run lists the tag check among the requests the DELETE may need.
    const dry = await applyPlan(new RegistryClient({ url: reg.url }), plan, { dryRun: true });
    const conditional = dry.outcomes[0]?.requests?.find((r) => r.includes('without a clean 202'));
    expect(conditional).toContain(`GET /v2/${repo}/tags/list`);
    expect(conditional).toContain('drop, drop-alias, moved');

    const journal = join(dir, 'delete-race-gone.jsonl');
    const result = await applyPlan(new RegistryClient({ url: reg.url }), plan, { journal });
    expect(await repositoryState(reg, repo)).toEqual({
      tags: { keep: keep.digest },
      manifests: [keep.digest],
    });
    expect(result.totals).toMatchObject({ done: 1, failed: 0, skipped: 0 });
    expect(result.outcomes[0]?.reason).toMatch(/^already gone \(404\); its tags .* removed them$/);
    await pullsCompletely(reg.host, repo, 'keep');
  });

  it('a run killed while removing the tags left behind is resumed, and restore undoes it all', async () => {
    const repo = 'delete-race-kill';
    const { keep, drop } = await deleteRaceFixture(repo);
    const plan = await deleteRacePlan(repo, drop);
    const journal = join(dir, 'delete-race-kill.jsonl');
    const copy = join(dir, 'delete-race-kill.resume.jsonl');
    const { fetchFn, log } = tearingFetch(repo, undefined, { digest: drop.digest });
    // Killed once the placeholder for `drop` is on the tag, before it is deleted.
    let dead = false;
    const killing = (async (input: string | URL | Request, init?: RequestInit) => {
      if (dead) throw new Error('killed');
      const response = await fetchFn(input, init);
      if (log.at(-1) === `PUT /v2/${repo}/manifests/drop 201`) {
        copyFileSync(journal, copy);
        dead = true;
        throw new Error('killed');
      }
      return response;
    }) as typeof fetch;
    // Short backoff: the client retries the failed requests after the kill before it gives up.
    const killed = new RegistryClient({ url: reg.url, fetch: killing, retry: { baseDelay: 1 } });
    await applyPlan(killed, plan, { journal }).catch(() => undefined);
    expect(dead).toBe(true);
    const client = new RegistryClient({ url: reg.url });
    const placeholder = await client.resolve(repo, 'drop');
    expect(placeholder).toBeDefined();
    expect(placeholder).not.toBe(drop.digest);

    const result = await applyPlan(client, plan, { journal: copy });
    expect(result.totals).toMatchObject({ done: 1, failed: 0, skipped: 0 });
    expect(result.outcomes[0]?.reason).toMatch(
      /^deleted by an interrupted earlier run \(undo journal\); its tags .*drop, .*drop-alias, .*moved were left listed/,
    );
    expect(await repositoryState(reg, repo)).toEqual({
      tags: { keep: keep.digest },
      manifests: [keep.digest],
    });
    await pullsCompletely(reg.host, repo, 'keep');
    // Recorded as finished: a further run does not touch it again.
    const again = await applyPlan(client, plan, { journal: copy });
    expect(again.outcomes[0]?.reason).toContain('earlier run');

    // The journal recorded the image with its tags before the DELETE: restore brings all back.
    await restore(client, copy);
    expect(await repositoryState(reg, repo)).toEqual({
      tags: { drop: drop.digest, 'drop-alias': drop.digest, keep: keep.digest, moved: drop.digest },
      manifests: [keep.digest, drop.digest].sort(),
    });
    await pullsCompletely(reg.host, repo, 'drop');
  });
});
