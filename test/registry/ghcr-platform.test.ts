/**
 * The GHCR platform (GitHub Packages REST API) against a FAKE GitHub API built from GitHub's docs,
 * on top of a REAL docker-registry (test/helpers/fake-github-packages.ts): untagged versions seen on
 * the first run, deletes through `DELETE …/versions/{id}` (the OCI DELETE answers 405 there),
 * untags through a placeholder whose version is deleted, restore through `POST …/restore`, with
 * skopeo checking that every kept tag still pulls completely.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import {
  AuthError,
  applyPlan,
  DeleteDisabledError,
  GhcrPlatform,
  loadGraph,
  PlatformInputError,
  RateLimitError,
  RegistryClient,
  restore,
} from '../../src/registry/index.js';
import {
  type FakeGitHubPackages,
  startFakeGitHubPackages,
} from '../helpers/fake-github-packages.js';
import { type PushedImage, pushImage, pushIndex, tagManifest } from '../helpers/push.js';
import { pullsCompletely } from '../helpers/skopeo.js';

const FULL = 'ghp_full_token';
const READ_ONLY = 'ghp_read_only';
const SCOPES = ['read:packages', 'delete:packages', 'write:packages'];

let fake: FakeGitHubPackages;
const dirs: string[] = [];

beforeAll(async () => {
  fake = await startFakeGitHubPackages({
    tokens: {
      [FULL]: { login: 'me', scopes: SCOPES },
      [READ_ONLY]: { login: 'me', scopes: ['read:packages'] },
    },
  });
});

afterAll(async () => {
  await fake?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function client(token = FULL, extra: Partial<ConstructorParameters<typeof GhcrPlatform>[0]> = {}) {
  return new RegistryClient({
    url: fake.url,
    auth: { username: 'me', password: token },
    platform: { kind: 'ghcr', apiUrl: fake.apiUrl, ...extra },
  });
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'regprune-ghcr-'));
  dirs.push(dir);
  return dir;
}

/** A repository: v1, v2 (also `latest`, `old-latest`), an untagged build, a tagged index. */
async function seed(repo: string) {
  const reg = fake.registry;
  const v1 = await pushImage(reg, repo, { tag: 'v1', salt: `${repo}-v1` });
  const v2 = await pushImage(reg, repo, { tag: 'v2', salt: `${repo}-v2` });
  for (const tag of ['latest', 'old-latest']) await tagManifest(reg, repo, tag, v2.digest);
  const untagged = await pushImage(reg, repo, { salt: `${repo}-untagged` });
  const children = [
    await pushImage(reg, repo, { salt: `${repo}-amd64`, architecture: 'amd64' }),
    await pushImage(reg, repo, { salt: `${repo}-arm64`, architecture: 'arm64' }),
  ];
  const index = await pushIndex(reg, repo, {
    tag: 'multi',
    manifests: [
      { ...children[0], architecture: 'amd64' } as PushedImage,
      { ...children[1], architecture: 'arm64' } as PushedImage,
    ],
  });
  return { v1, v2, untagged, children, index };
}

describe('GHCR platform on the fake GitHub Packages API over a real docker-registry', () => {
  it('loads every version, untagged ones included on the first run, with created_at as pushed', async () => {
    const repo = 'my-org/loadme';
    const s = await seed(repo);
    fake.setCreated(repo, s.untagged.digest, '2021-03-04T05:06:07Z');
    const graph = await loadGraph(client(), { repositories: [repo] });
    const id = `${repo}@${s.untagged.digest}`;
    expect(graph.hasImage(id)).toBe(true);
    expect(graph.imageInfo(id)?.pushed).toBe('2021-03-04T05:06:07Z');
    for (const tagged of [s.v1, s.v2, s.index])
      expect(graph.imageInfo(`${repo}@${tagged.digest}`)?.pushed).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(fake.apiLog).toContain(
      `GET /orgs/my-org/packages/container/loadme/versions?per_page=100&state=active`,
    );
  });

  it("the platform's created_at stays the pushed time when a state file saw the image later", async () => {
    const repo = 'my-org/seenlater';
    const s = await seed(repo);
    fake.setCreated(repo, s.untagged.digest, '2021-03-04T05:06:07Z');
    const id = `${repo}@${s.untagged.digest}`;
    const graph = await loadGraph(client(), {
      repositories: [repo],
      previous: {
        format: 'regprune.inventory.v1',
        images: [id],
        firstSeen: { [id]: '2024-01-01T00:00:00.000Z' },
      },
      seenAt: new Date('2024-06-01T00:00:00Z'),
    });
    expect(graph.imageInfo(id)?.pushed).toBe('2021-03-04T05:06:07Z');
  });

  it('finds packages of an owner for a glob, nested names URL-encoded, across Link pages', async () => {
    for (let i = 0; i < 3; i++)
      await pushImage(fake.registry, `me/team/tool${i}`, { tag: 't', salt: `tool${i}` });
    const platform = new GhcrPlatform({ apiUrl: fake.apiUrl, token: FULL });
    const names = await platform.listRepositories(['me/team/**']);
    expect(names).toEqual(['me/team/tool0', 'me/team/tool1', 'me/team/tool2']);
    // The token's own user: the /user namespace.
    const versions = await platform.listVersions('me/team/tool1');
    expect(versions).toHaveLength(1);
    expect(fake.apiLog).toContain(
      'GET /user/packages/container/team%2Ftool1/versions?per_page=100&state=active',
    );
    await expect(platform.listRepositories(['*/x'])).rejects.toThrow(PlatformInputError);
    // No repositories at all: GitHub has no catalog, so the load says how to name them.
    await expect(loadGraph(client())).rejects.toThrow(/no catalog of every package.*--repo/);
  });

  it('follows Link pagination over versions (more than 100)', async () => {
    const repo = 'my-org/many';
    for (let i = 0; i < 105; i++)
      await pushImage(fake.registry, repo, { salt: `many-${i}`, layers: ['shared'] });
    const platform = new GhcrPlatform({ apiUrl: fake.apiUrl, token: FULL });
    const versions = await platform.listVersions(repo);
    expect(new Set(versions.map((v) => v.digest)).size).toBe(105);
    expect(fake.apiLog.some((l) => l.includes('/many/versions?') && l.includes('page=2'))).toBe(
      true,
    );
  });

  it('plans, applies through DELETE …/versions/{id}, and restores through POST …/restore; kept tags pull', async () => {
    const repo = 'my-org/app';
    const s = await seed(repo);
    const c = client();
    const graph = await loadGraph(c, { repositories: ['my-org/app'] });
    const keep = new Set([`${repo}:v2`, `${repo}:latest`, `${repo}:multi`]);
    const plan = planCleanup(graph, (tag) => keep.has(tag));
    const deleted = plan.delete.map((op) => op.image).sort();
    expect(deleted).toEqual([`${repo}@${s.untagged.digest}`, `${repo}@${s.v1.digest}`].sort());
    expect(plan.untag.map((op) => op.tag)).toEqual([`${repo}:old-latest`]);

    const dry = await applyPlan(c, plan, { graph, dryRun: true });
    const dryRequests = dry.outcomes.flatMap((o) => o.requests ?? []);
    expect(
      dryRequests.some((r) =>
        r.startsWith(`DELETE ${fake.apiUrl}/orgs/my-org/packages/container/app/versions/`),
      ),
    ).toBe(true);
    expect(dryRequests.some((r) => /^DELETE \/v2\/.*sha256:[0-9a-f]{64}$/.test(r))).toBe(false);

    const journal = join(await tempDir(), 'journal.jsonl');
    const apiBefore = fake.apiLog.length;
    const result = await applyPlan(c, plan, { graph, journal });
    expect(result.outcomes.filter((o) => o.status !== 'done')).toEqual([]);
    // Not distribution's garbage-collection advice: GitHub frees the storage itself.
    expect(result.notes.join('\n')).not.toMatch(/garbage-collect/);
    expect(result.notes.join('\n')).toMatch(/Deleted through the ghcr API/);
    const apiDeletes = fake.apiLog.slice(apiBefore).filter((l) => l.startsWith('DELETE '));
    // Two planned versions plus the untag's placeholder version.
    expect(apiDeletes).toHaveLength(3);
    for (const d of [s.untagged, s.v1]) expect(await c.resolve(repo, d.digest)).toBeUndefined();
    expect(await c.resolve(repo, 'old-latest')).toBeUndefined();
    for (const tag of ['v2', 'latest', 'multi'])
      await pullsCompletely(fake.host, repo, tag, `me:${FULL}`);

    const undone = await restore(c, journal);
    expect(fake.apiLog.filter((l) => l.startsWith('POST ') && l.endsWith('/restore'))).toHaveLength(
      2,
    );
    expect(
      undone.manifests
        .filter((m) => m.status === 'restored')
        .map((m) => m.digest)
        .sort(),
    ).toEqual([s.untagged.digest, s.v1.digest].sort());
    expect(await c.resolve(repo, s.untagged.digest)).toBe(s.untagged.digest);
    expect(await c.resolve(repo, 'v1')).toBe(s.v1.digest);
    expect(await c.resolve(repo, 'old-latest')).toBe(s.v2.digest);
    for (const tag of ['v1', 'v2', 'latest', 'multi', 'old-latest'])
      await pullsCompletely(fake.host, repo, tag, `me:${FULL}`);
  });

  it('skips a public version downloaded more than 5,000 times, with that reason, and keeps what it needs', async () => {
    const repo = 'my-org/popular';
    const s = await seed(repo);
    fake.setPublic(repo);
    fake.setDownloads(repo, s.v1.digest, 5001);
    const c = client();
    const graph = await loadGraph(c, { repositories: [repo] });
    const keep = new Set([`${repo}:v2`, `${repo}:latest`, `${repo}:old-latest`]);
    const plan = planCleanup(graph, (tag) => keep.has(tag));
    const result = await applyPlan(c, plan, { graph });
    const skipped = result.outcomes.find((o) => o.id === `${repo}@${s.v1.digest}`);
    expect(skipped?.status).toBe('skipped');
    expect(skipped?.reason).toMatch(/5,000 times/);
    expect(await c.resolve(repo, s.v1.digest)).toBe(s.v1.digest);
    await pullsCompletely(fake.host, repo, 'v1', `me:${FULL}`);
    // The index went; its children (nothing else needs them) went after it.
    expect(await c.resolve(repo, s.index.digest)).toBeUndefined();
  });

  it('a version DELETE that answers 500 after deleting is sent once more; its 404 then means it went: done, and a new plan has nothing left', async () => {
    const repo = 'my-org/erratic';
    await seed(repo);
    const c = client();
    const graph = await loadGraph(c, { repositories: [repo] });
    const keep = [`${repo}:v2`, `${repo}:multi`];
    const plan = planCleanup(graph, keep);
    const before = fake.apiLog.length;
    // The first version DELETE (an untag's placeholder here) deletes, then answers 500.
    fake.failNextDeleteAfterDeleting(500);
    const result = await applyPlan(c, plan, { graph });
    const deletes = fake.apiLog.slice(before).filter((l) => l.startsWith('DELETE '));
    // One DELETE per untag placeholder and per planned image, and one more for the 500.
    expect(deletes).toHaveLength(plan.untag.length + plan.delete.length + 1);
    expect(new Set(deletes).size).toBe(plan.untag.length + plan.delete.length);
    expect(result.outcomes.filter((o) => o.status !== 'done')).toEqual([]);
    const again = planCleanup(await loadGraph(c, { repositories: [repo] }), keep);
    expect([...again.untag, ...again.delete]).toEqual([]);
  });

  it('names the missing delete:packages scope before deleting anything', async () => {
    const repo = 'my-org/scoped';
    await seed(repo);
    const c = client(READ_ONLY);
    const graph = await loadGraph(c, { repositories: [repo] });
    const plan = planCleanup(graph, (tag) => tag.endsWith(':v2'));
    const before = fake.apiLog.length;
    const error = await applyPlan(c, plan, { graph }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).message).toMatch(/delete:packages/);
    expect((error as AuthError).message).toMatch(/GITHUB_TOKEN/);
    expect(fake.apiLog.slice(before).some((l) => l.startsWith('DELETE '))).toBe(false);
  });

  it('a bad token gets a 401 naming read:packages, without the token in the message', async () => {
    const platform = new GhcrPlatform({ apiUrl: fake.apiUrl, token: 'ghp_wrong_secret' });
    const error = await platform.listVersions('my-org/app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/401.*read:packages.*Bad credentials/s);
    expect((error as Error).message).not.toContain('ghp_wrong_secret');
  });

  it('waits for the primary limit to reset (x-ratelimit-remaining 0) and for retry-after on a secondary limit', async () => {
    const token = 'ghp_limited';
    const limited = await startFakeGitHubPackages({
      tokens: { [token]: { login: 'me', scopes: SCOPES } },
    });
    try {
      await pushImage(limited.registry, 'my-org/rl', { tag: 'a', salt: 'rl' });
      const platform = new GhcrPlatform({ apiUrl: limited.apiUrl, token });
      limited.primaryLimit(token, 1, 2);
      const start = Date.now();
      // The first answer says 0 remaining: the next request waits for the reset.
      await platform.listVersions('my-org/rl');
      await platform.listVersions('my-org/rl');
      expect(Date.now() - start).toBeGreaterThanOrEqual(1000);
      limited.secondaryLimit(2, 1);
      const again = Date.now();
      expect(await platform.listVersions('my-org/rl')).toHaveLength(1);
      expect(Date.now() - again).toBeGreaterThanOrEqual(1900);
      // A reset further away than maxRateLimitWait fails at once, naming when it resets.
      const impatient = new GhcrPlatform({ apiUrl: limited.apiUrl, token, maxRateLimitWait: 500 });
      limited.primaryLimit(token, 0, 600);
      await expect(impatient.listVersions('my-org/rl')).rejects.toThrow(RateLimitError);
    } finally {
      await limited.stop();
    }
  });

  it('caps requests per second', async () => {
    const platform = new GhcrPlatform({ apiUrl: fake.apiUrl, token: FULL, requestsPerSecond: 5 });
    const start = Date.now();
    await Promise.all([1, 2, 3, 4, 5, 6].map(() => platform.listVersions('my-org/loadme')));
    // 1 (GET /users/my-org) + 6 listings = 7 requests at 5/s: at least 6 intervals of 200 ms.
    expect(Date.now() - start).toBeGreaterThanOrEqual(1150);
  });

  it('without the platform, the 405 of ghcr-like OCI deletes is not blamed on storage.delete.enabled', async () => {
    const c = new RegistryClient({
      url: fake.url,
      auth: { username: 'me', password: FULL },
      platform: 'none',
    });
    const error = await c.probeDelete('my-org/app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeleteDisabledError);
    // The fake answers 405 UNSUPPORTED like distribution; no platform: distribution's advice.
    expect((error as Error).message).toMatch(/storage\.delete\.enabled/);
    const ghcr = client();
    expect(ghcr.platform?.deleteAdvice).toMatch(/delete:packages/);
  });
});
