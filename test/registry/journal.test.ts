import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import {
  applyPlan,
  JournalError,
  type JournalIntent,
  loadGraph,
  RegistryClient,
  RestoreBlobMissingError,
  restore,
} from '../../src/registry/index.js';
import {
  listTags,
  manifestStatus,
  type PushTarget,
  pushCosign,
  pushImage,
  pushIndex,
  pushReferrer,
  sha256,
  tagManifest,
} from '../helpers/push.js';
import { garbageCollect, type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'regprune-journal-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * One repository with every kind of destructive operation: an untag (placeholder on 2.8), a
 * deleted image carrying two tags, a deleted index before its children, a deleted subject with an
 * SBOM, an attestation and a cosign signature, and a detached build-cache referrer of a kept image
 * (its fallback index is rewritten).
 */
async function fixture(reg: PushTarget, repo: string) {
  const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
  await tagManifest(reg, repo, 'alias', keep.digest);
  await pushReferrer(reg, repo, keep, {
    artifactType: 'application/spdx+json',
    content: 'kept sbom',
  });
  await pushReferrer(reg, repo, keep, {
    artifactType: 'application/vnd.buildkit.cache.v1+json',
    content: 'cache',
  });
  const old = await pushImage(reg, repo, { tag: 'old', salt: 'old' });
  await tagManifest(reg, repo, 'old-alias', old.digest);
  await pushReferrer(reg, repo, old, {
    artifactType: 'application/spdx+json',
    content: 'old sbom',
  });
  await pushReferrer(reg, repo, old, {
    artifactType: 'application/vnd.in-toto+json',
    content: 'old attestation',
  });
  await pushCosign(reg, repo, old, 'sig');
  const x = await pushImage(reg, repo, { salt: 'x', architecture: 'amd64' });
  const y = await pushImage(reg, repo, { salt: 'y', architecture: 'arm64', docker: true });
  await pushIndex(reg, repo, { tag: 'multi-old', manifests: [x, y] });
}

/** Every tag of the repositories → digest, attachment tags included. */
async function tagMap(reg: RunningRegistry, repos: string[]): Promise<Map<string, string>> {
  const client = new RegistryClient({ url: reg.url });
  const out = new Map<string, string>();
  for (const repo of repos) {
    for (const tag of await listTags(reg, repo))
      out.set(`${repo}:${tag}`, (await client.resolve(repo, tag)) as string);
  }
  return out;
}

const policy = {
  rules: [{ keepTags: ['keep'] }],
  referrers: ['application/vnd.buildkit.cache*'],
};

describe('undo journal and restore (real docker-registry 2.8)', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('journals every destructive request; restore brings back every tag at its digest', async () => {
    const repo = 'undo';
    await fixture(reg, repo);
    const before = await tagMap(reg, [repo]);
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, { repositories: [repo] });
    const plan = planCleanup(graph, policy);
    expect(plan.untag.map((op) => op.tag)).toEqual([`${repo}:alias`]);
    expect(plan.delete.length).toBeGreaterThanOrEqual(7);
    const journal = join(dir, 'undo.jsonl');
    const result = await applyPlan(client, plan, { graph, journal });
    expect(result.totals.failed).toBe(0);
    expect(result.totals.skipped).toBe(0);

    // The journal: one run line, then an intent before and an end after each destructive step.
    const lines = (await readFile(journal, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; seq?: number });
    expect(lines[0]).toMatchObject({ type: 'run', registry: reg.url });
    const intents = lines.filter(
      (l): l is JournalIntent & { type: 'intent' } => l.type === 'intent',
    );
    for (const intent of intents) {
      expect(sha256(Buffer.from(intent.manifest, 'base64'))).toBe(intent.digest);
      const intentAt = lines.indexOf(intent);
      const endAt = lines.findIndex((l) => l.type === 'end' && l.seq === intent.seq);
      expect(endAt).toBeGreaterThan(intentAt);
      expect(lines[endAt]).toMatchObject({ status: 'done' });
    }
    const deleted = new Set(
      intents.filter((i) => i.action === 'delete').map((i) => `${i.repository}@${i.digest}`),
    );
    expect(deleted).toEqual(new Set(plan.delete.map((op) => op.image)));
    expect(intents.find((i) => i.action === 'untag')).toMatchObject({ tags: ['alias'] });
    const oldIntent = intents.find((i) => i.tags.includes('old'));
    expect(oldIntent?.tags).toEqual(['old', 'old-alias']);
    expect(intents.some((i) => i.action === 'rewrite' && i.replacement)).toBe(true);

    // The cleanup happened.
    expect(await listTags(reg, repo)).not.toContain('old');
    for (const image of deleted)
      expect(await manifestStatus(reg, repo, image.split('@')[1] as string)).toBe(404);

    const restored = await restore(client, journal);
    expect(restored.notes.join(' ')).toMatch(/garbage collection/);
    expect(restored.manifests.filter((m) => m.status === 'restored')).toHaveLength(
      restored.manifests.length - 1, // the kept image of the untag was never deleted
    );
    expect(restored.tags.every((t) => t.status !== 'conflict')).toBe(true);
    expect(await tagMap(reg, [repo])).toEqual(before);
    for (const [ref] of before) {
      const [name, tag] = ref.split(':') as [string, string];
      await pullsCompletely(reg.host, name, tag);
    }
    for (const image of deleted)
      expect(await manifestStatus(reg, repo, image.split('@')[1] as string)).toBe(200);

    // Twice is harmless.
    const again = await restore(client, journal);
    expect(again.manifests.every((m) => m.status === 'present')).toBe(true);
    expect(again.tags.every((t) => t.status === 'present')).toBe(true);
  });

  it('a tag someone pushed since is a conflict and is left alone', async () => {
    const repo = 'undoconflict';
    const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    const old = await pushImage(reg, repo, { tag: 'old', salt: 'o' });
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, { repositories: [repo] });
    const journal = join(dir, 'conflict.jsonl');
    await applyPlan(client, planCleanup(graph, [`${repo}:keep`]), { graph, journal });
    const newer = await pushImage(reg, repo, { tag: 'old', salt: 'newer' });
    const result = await restore(client, journal);
    expect(result.tags).toEqual([
      expect.objectContaining({ tag: `${repo}:old`, digest: old.digest, status: 'conflict' }),
    ]);
    expect(await client.resolve(repo, 'old')).toBe(newer.digest);
    expect(await manifestStatus(reg, repo, old.digest)).toBe(200);
    expect(await manifestStatus(reg, repo, keep.digest)).toBe(200);
  });

  it('a journal of another plan gets a new run appended; a missing journal is not restored', async () => {
    const repo = 'undoother';
    await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    await pushImage(reg, repo, { tag: 'a', salt: 'a' });
    await pushImage(reg, repo, { tag: 'b', salt: 'b' });
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, { repositories: [repo] });
    const journal = join(dir, 'other.jsonl');
    await applyPlan(client, planCleanup(graph, [`${repo}:keep`, `${repo}:b`]), { graph, journal });
    const result = await applyPlan(client, planCleanup(graph, [`${repo}:keep`]), {
      graph,
      journal,
    });
    // The graph is the first plan's: `a` is found gone, `b` is deleted.
    expect(result.totals).toMatchObject({ done: 2, failed: 0, skipped: 0 });
    expect(await listTags(reg, repo)).toEqual(['keep']);
    expect((await readFile(journal, 'utf8')).match(/"type":"run"/g)).toHaveLength(2);
    await expect(restore(client, join(dir, 'missing.jsonl'))).rejects.toThrow(JournalError);
  });
});

describe("restore after the registry's garbage collection", () => {
  it('fails with RestoreBlobMissingError naming the blob, and changes nothing', async () => {
    let reg = await startRegistry();
    const dataDir = reg.dataDir;
    const keepData = await mkdtemp(join(tmpdir(), 'regprune-journal-gc-'));
    try {
      const repo = 'gc';
      await pushImage(reg, repo, { tag: 'keep', salt: 'k', layers: ['kept layer'] });
      const old = await pushImage(reg, repo, { tag: 'old', salt: 'o', layers: ['old layer'] });
      const client = new RegistryClient({ url: reg.url });
      const graph = await loadGraph(client, { repositories: [repo] });
      const journal = join(keepData, 'gc.jsonl');
      await applyPlan(client, planCleanup(graph, [`${repo}:keep`]), { graph, journal });
      await reg.stop({ keepData: true });
      const { eligible } = await garbageCollect(reg.configPath);
      expect(eligible).toContain(old.layers[0]?.digest);
      reg = await startRegistry({ dataDir });
      const after = new RegistryClient({ url: reg.url });
      // The restarted registry listens on another port: the same registry, so the override.
      const error = await restore(after, journal, { allowOtherRegistry: true }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RestoreBlobMissingError);
      const missing = (error as RestoreBlobMissingError).missing;
      expect(missing.map((m) => m.missing)).toEqual(
        expect.arrayContaining([old.config.digest, old.layers[0]?.digest]),
      );
      expect((error as Error).message).toContain(`gc@${old.digest}`);
      expect((error as Error).message).toMatch(/garbage collection/);
      expect(await listTags(reg, repo)).toEqual(['keep']);
      expect(await manifestStatus(reg, repo, old.digest)).toBe(404);
    } finally {
      await reg.stop();
      await rm(keepData, { recursive: true, force: true });
      // Both registries' temporary folders: the first one's holds the data, the second one's its config.
      await rm(dirname(dataDir), { recursive: true, force: true });
      await rm(dirname(reg.configPath), { recursive: true, force: true });
    }
  });
});
