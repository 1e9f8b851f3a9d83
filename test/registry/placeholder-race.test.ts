import { copyFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CleanupPlan, planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import { cleanupFixture } from '../helpers/fixtures.js';
import { listTags } from '../helpers/push.js';
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
 * after the probe (the untag's placeholder), and records every request with its status. With
 * `killAfter`, the run is killed once that DELETE has its answer: the journal is copied to
 * `killAfter.copy` and nothing more is sent.
 */
function tearingFetch(repo: string, killAfter?: { journal: string; copy: string }) {
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
      !path.endsWith('0'.repeat(64));
    if (tear) {
      tearing = false;
      await mkdir(join(torn, 'current'), { recursive: true });
      await writeFile(join(torn, 'current', 'link'), '');
    }
    try {
      const response = await fetch(input, init);
      log.push(`${method} ${path} ${response.status}${tear ? ' (torn)' : ''}`);
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
    expect(log[torn + 1]).toBe(`${log[torn]?.split(' 500')[0]} 404`);

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
