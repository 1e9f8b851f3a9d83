import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CleanupPlan, type ImageGraph, planCleanup } from '../../src/index.js';
import {
  applyPlan,
  DeleteDisabledError,
  loadGraph,
  PlanRefusedError,
  RegistryClient,
  registryTarget,
} from '../../src/registry/index.js';
import {
  fallbackTag,
  listTags,
  manifestStatus,
  type PushedImage,
  pushCosign,
  pushImage,
  pushIndex,
  pushReferrer,
  tagManifest,
} from '../helpers/push.js';
import { garbageCollect, type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

let reg: RunningRegistry;
let client: RegistryClient;

beforeAll(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ url: reg.url });
});
afterAll(async () => {
  await reg?.stop();
});

/** Pushes the original chain A <- B <- C <- D (or D on B for scenario 2); A and B untagged. */
async function scenario(repo: string, dOnB: boolean) {
  const A = await pushImage(reg, repo, { salt: 'A', created: '2020-01-01T00:00:00Z' });
  const B = await pushImage(reg, repo, { salt: 'B', parent: A });
  const C = await pushImage(reg, repo, { salt: 'C', parent: B, tag: 'version1' });
  const D = await pushImage(reg, repo, { salt: 'D', parent: dOnB ? B : C, tag: 'version2' });
  await tagManifest(reg, repo, 'latest', D.digest);
  return { A, B, C, D };
}

async function load(repos: string[]): Promise<ImageGraph> {
  return loadGraph(client, { repositories: repos });
}

/** Every kept tag pulls with skopeo; every deleted digest answers 404; a second plan is empty. */
async function verifyAfterApply(repos: string[], plan: CleanupPlan, keep: string[]): Promise<void> {
  for (const tag of plan.keptTags) {
    const [repo, name] = tag.split(':') as [string, string];
    await pullsCompletely(reg.host, repo, name);
  }
  for (const op of plan.delete) {
    const [repo, digest] = op.image.split('@') as [string, string];
    expect(await manifestStatus(reg, repo, digest), op.image).toBe(404);
  }
  const again = planCleanup(await load(repos), keep);
  expect(again.delete).toEqual([]);
  expect(again.untag).toEqual([]);
}

describe('registry adapter end to end (real docker-registry 2.8)', () => {
  it('scenario 1: parents from base-image annotations; version1 is untagged, every image stays', async () => {
    const repo = 's1';
    const { A, B, C, D } = await scenario(repo, false);
    const graph = await load([repo]);
    const id = (p: PushedImage) => `${repo}@${p.digest}`;
    expect(graph.targetsOf(id(D), 'parent')).toEqual([id(C)]);
    expect(graph.targetsOf(id(C), 'parent')).toEqual([id(B)]);
    expect(graph.targetsOf(id(B), 'parent')).toEqual([id(A)]);
    const keep = [`${repo}:version2`, `${repo}:latest`];
    const plan = planCleanup(graph, keep);
    expect(plan.untag).toEqual([{ tag: `${repo}:version1`, image: id(C) }]);
    expect(plan.delete).toEqual([]);
    const result = await applyPlan(client, plan, { graph });
    expect(result.totals).toEqual({ done: 1, skipped: 0, failed: 0, planned: 0 });
    expect(result.outcomes[0]?.reason).toMatch(/placeholder/);
    expect(await listTags(reg, repo)).toEqual(['latest', 'version2']);
    for (const p of [A, B, C, D]) expect(await manifestStatus(reg, repo, p.digest)).toBe(200);
    await verifyAfterApply([repo], plan, keep);
  });

  it('scenario 2: C is deleted with version1; A, B, D stay and latest pulls', async () => {
    const repo = 's2';
    const { A, B, C } = await scenario(repo, true);
    const graph = await load([repo]);
    const keep = [`${repo}:version2`, `${repo}:latest`];
    const plan = planCleanup(graph, keep);
    expect(plan.delete.map((op) => [op.image, op.tags])).toEqual([
      [`${repo}@${C.digest}`, [`${repo}:version1`]],
    ]);
    const result = await applyPlan(client, plan, { graph });
    expect(result.totals.done).toBe(1);
    expect(result.notes.join(' ')).toMatch(/garbage-collect/);
    expect(result.reclaimableBytes).toBe(plan.reclaimableBytes);
    expect(result.reclaimableBytes).toBeGreaterThan(0);
    for (const p of [A, B]) expect(await manifestStatus(reg, repo, p.digest)).toBe(200);
    await verifyAfterApply([repo], plan, keep);
  });

  it('two tags on one digest, keep one: the other tag goes, the digest stays and pulls', async () => {
    const repo = 'twotags';
    const img = await pushImage(reg, repo, { tag: 'a' });
    await tagManifest(reg, repo, 'b', img.digest);
    const graph = await load([repo]);
    const plan = planCleanup(graph, [`${repo}:a`]);
    expect(plan.delete).toEqual([]);
    expect(plan.untag).toEqual([{ tag: `${repo}:b`, image: `${repo}@${img.digest}` }]);
    await applyPlan(client, plan, { graph });
    expect(await listTags(reg, repo)).toEqual(['a']);
    expect(await manifestStatus(reg, repo, img.digest)).toBe(200);
    await verifyAfterApply([repo], plan, [`${repo}:a`]);
  });

  it('a kept index keeps its children; an orphaned index is deleted before its children', async () => {
    const repo = 'multi';
    const x = await pushImage(reg, repo, { salt: 'x', architecture: 'amd64' });
    const y = await pushImage(reg, repo, { salt: 'y', architecture: 'arm64' });
    const kept = await pushIndex(reg, repo, { tag: 'stable', manifests: [x, y] });
    const p = await pushImage(reg, repo, { salt: 'p' });
    const q = await pushImage(reg, repo, { salt: 'q', docker: true });
    const old = await pushIndex(reg, repo, { tag: 'old', manifests: [p, q], docker: true });
    const graph = await load([repo]);
    expect(graph.targetsOf(`${repo}@${kept.digest}`, 'child')).toEqual(
      [`${repo}@${x.digest}`, `${repo}@${y.digest}`].sort(),
    );
    expect(graph.imageInfo(`${repo}@${x.digest}`)?.platform?.architecture).toBe('amd64');
    const plan = planCleanup(graph, [`${repo}:stable`]);
    expect(plan.delete.map((op) => op.image).sort()).toEqual(
      [`${repo}@${old.digest}`, `${repo}@${p.digest}`, `${repo}@${q.digest}`].sort(),
    );
    const result = await applyPlan(client, plan, { graph });
    const order = result.outcomes.map((o) => o.id);
    expect(order.indexOf(`${repo}@${old.digest}`)).toBeLessThan(
      order.indexOf(`${repo}@${p.digest}`),
    );
    expect(order.indexOf(`${repo}@${old.digest}`)).toBeLessThan(
      order.indexOf(`${repo}@${q.digest}`),
    );
    for (const child of [x, y]) expect(await manifestStatus(reg, repo, child.digest)).toBe(200);
    await verifyAfterApply([repo], plan, [`${repo}:stable`]);
  });

  it('signatures and SBOMs follow their subject; the fallback tag goes when its subject goes', async () => {
    const repo = 'signed';
    const keptImg = await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    const keptSbom = await pushReferrer(reg, repo, keptImg, {
      artifactType: 'application/spdx+json',
      content: 'sbom of keep',
    });
    const keptSig = await pushCosign(reg, repo, keptImg, 'sig');
    const gone = await pushImage(reg, repo, { tag: 'gone', salt: 'g' });
    const goneSbom = await pushReferrer(reg, repo, gone, {
      artifactType: 'application/spdx+json',
      content: 'sbom of gone',
    });
    const goneAtt = await pushReferrer(reg, repo, gone, {
      artifactType: 'application/vnd.in-toto+json',
      content: 'attestation of gone',
    });
    const goneSig = await pushCosign(reg, repo, gone, 'sig');
    const goneSbomTag = await pushCosign(reg, repo, gone, 'sbom');
    const graph = await load([repo]);
    // Attachment tags are not retention roots: only the two ordinary tags are graph tags.
    expect(graph.tags()).toEqual([`${repo}:gone`, `${repo}:keep`]);
    expect(graph.sourcesOf(`${repo}@${keptImg.digest}`, 'referrer')).toEqual(
      [`${repo}@${keptSbom.digest}`, `${repo}@${keptSig.digest}`].sort(),
    );
    const plan = planCleanup(graph, [`${repo}:keep`]);
    const deleted = plan.delete.map((op) => op.image);
    expect(deleted.sort()).toEqual(
      [gone, goneSbom, goneAtt, goneSig, goneSbomTag].map((p) => `${repo}@${p.digest}`).sort(),
    );
    const result = await applyPlan(client, plan, { graph });
    expect(result.totals.failed).toBe(0);
    const rewrite = result.outcomes.find((o) => o.action === 'rewrite');
    expect(rewrite?.id).toBe(`${repo}:${fallbackTag(gone.digest)}`);
    expect(await listTags(reg, repo)).toEqual(
      [`${fallbackTag(keptImg.digest)}`, `${fallbackTag(keptImg.digest)}.sig`, 'keep'].sort(),
    );
    for (const p of [keptSbom, keptSig])
      expect(await manifestStatus(reg, repo, p.digest)).toBe(200);
    await pullsCompletely(reg.host, repo, `${fallbackTag(keptImg.digest)}.sig`);
    await verifyAfterApply([repo], plan, [`${repo}:keep`]);
  });

  it('a tag pushed between plan and apply onto a planned digest saves it (and what it needs)', async () => {
    const repo = 'stale';
    const base = await pushImage(reg, repo, { salt: 'base' });
    const keepImg = await pushImage(reg, repo, { salt: 'keep', tag: 'keep' });
    const old = await pushImage(reg, repo, { salt: 'old', tag: 'old', parent: base });
    const other = await pushImage(reg, repo, { salt: 'other', tag: 'other' });
    const graph = await load([repo]);
    const plan = planCleanup(graph, [`${repo}:keep`]);
    expect(plan.delete.map((op) => op.image).sort()).toEqual(
      [base, old, other].map((p) => `${repo}@${p.digest}`).sort(),
    );
    await tagManifest(reg, repo, 'hotfix', old.digest);
    const result = await applyPlan(client, plan, { graph });
    const byId = new Map(result.outcomes.map((o) => [o.id, o]));
    expect(byId.get(`${repo}@${old.digest}`)?.status).toBe('skipped');
    expect(byId.get(`${repo}@${old.digest}`)?.reason).toMatch(/changed since plan: stale:hotfix/);
    expect(byId.get(`${repo}@${base.digest}`)?.status).toBe('skipped');
    expect(byId.get(`${repo}@${other.digest}`)?.status).toBe('done');
    expect(result.totals).toMatchObject({ done: 1, skipped: 2, failed: 0 });
    await pullsCompletely(reg.host, repo, 'hotfix');
    await pullsCompletely(reg.host, repo, 'keep');
    expect(await manifestStatus(reg, repo, keepImg.digest)).toBe(200);
    expect(await manifestStatus(reg, repo, other.digest)).toBe(404);
  });

  it('dry run lists the requests it would send and changes nothing', async () => {
    const repo = 'dry';
    await pushImage(reg, repo, { tag: 'keep', salt: 'k' });
    const drop = await pushImage(reg, repo, { tag: 'drop', salt: 'd' });
    const graph = await load([repo]);
    const plan = planCleanup(graph, [`${repo}:keep`]);
    const before = client.requestCount;
    const result = await applyPlan(client, plan, { graph, dryRun: true });
    expect(client.requestCount).toBe(before);
    expect(result.dryRun).toBe(true);
    expect(result.totals.planned).toBe(1);
    expect(result.outcomes[0]?.requests).toContain(`DELETE /v2/${repo}/manifests/${drop.digest}`);
    expect(await listTags(reg, repo)).toEqual(['drop', 'keep']);
  });

  it("without the graph, apply loads the plan's repositories again for the re-check", async () => {
    const repo = 'nograph';
    const x = await pushImage(reg, repo, { salt: 'x' });
    const y = await pushImage(reg, repo, { salt: 'y' });
    await pushIndex(reg, repo, { tag: 'keep', manifests: [x] });
    const old = await pushIndex(reg, repo, { tag: 'old', manifests: [y] });
    const plan = planCleanup(await load([repo]), [`${repo}:keep`]);
    expect(plan.delete.map((op) => op.image)).toEqual([
      `${repo}@${old.digest}`,
      `${repo}@${y.digest}`,
    ]);
    const result = await applyPlan(client, plan);
    expect(result.totals).toMatchObject({ done: 2, skipped: 0, failed: 0 });
    await verifyAfterApply([repo], plan, [`${repo}:keep`]);
  });

  it('a refused plan is not applied', async () => {
    const repo = 'refused';
    await pushImage(reg, repo, { tag: 'drop' });
    const graph = await load([repo]);
    const plan = { ...planCleanup(graph, []), refused: { reason: 'would delete 100% of images' } };
    await expect(applyPlan(client, plan, { graph })).rejects.toThrow(PlanRefusedError);
    expect(await listTags(reg, repo)).toEqual(['drop']);
  });

  it('registryTarget loads and applies as a CleanupTarget, with dates from the config', async () => {
    const repo = 'target';
    await pushImage(reg, repo, { tag: 'new', salt: 'n', created: '2024-05-01T00:00:00Z' });
    const old = await pushImage(reg, repo, {
      tag: 'old',
      salt: 'o',
      created: '2019-05-01T00:00:00Z',
    });
    const target = registryTarget(client, { repositories: [repo] });
    expect(target.description).toBe(reg.url);
    const graph = await target.loadGraph({ dates: true });
    expect(graph.imageInfo(`${repo}@${old.digest}`)?.created).toBe('2019-05-01T00:00:00Z');
    const plan = planCleanup(graph, [`${repo}:new`]);
    const result = await target.applyPlan(plan);
    expect(result.totals.done).toBe(1);
    expect(await manifestStatus(reg, repo, old.digest)).toBe(404);
  });
});

describe('registry adapter: loading details and more stale-plan cases', () => {
  it('globs, cross-repository base images, extra digests, progress events and abort', async () => {
    const base = await pushImage(reg, 'team/base', { salt: 'tb', tag: '1' });
    const app = await pushImage(reg, 'team/app', {
      salt: 'ta',
      tag: 'v1',
      parent: base,
      parentName: `${reg.host}/team/base:1`,
    });
    const untagged = await pushImage(reg, 'team/app', { salt: 'loose' });
    const events: string[] = [];
    const graph = await loadGraph(client, {
      repositories: ['team/**'],
      extraDigests: [`team/app@${untagged.digest}`, `team/app@sha256:${'1'.repeat(64)}`],
      onProgress: (e) => events.push(`${e.phase} ${e.tags.done}/${e.tags.total}`),
    });
    expect(graph.tags()).toEqual(['team/app:v1', 'team/base:1']);
    expect(graph.targetsOf(`team/app@${app.digest}`, 'parent')).toEqual([
      `team/base@${base.digest}`,
    ]);
    expect(graph.hasImage(`team/app@${untagged.digest}`)).toBe(true);
    expect(events.at(-1)).toBe('done 2/2');
    // Keeping the app keeps its base in the other repository; the loose manifest goes.
    const plan = planCleanup(graph, ['team/app:v1']);
    expect(plan.delete.map((op) => op.image)).toEqual([`team/app@${untagged.digest}`]);
    expect(plan.untag).toEqual([{ tag: 'team/base:1', image: `team/base@${base.digest}` }]);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(
      loadGraph(client, { repositories: ['team/app'], signal: controller.signal }),
    ).rejects.toThrow('stop');
  });

  it('an untagged subject is loaded through its attachment tags, and goes with them', async () => {
    const repo = 'loosesig';
    await pushImage(reg, repo, { salt: 'k', tag: 'keep' });
    const loose = await pushImage(reg, repo, { salt: 'loose' });
    const sig = await pushCosign(reg, repo, loose, 'sig');
    const sbom = await pushReferrer(reg, repo, loose, {
      artifactType: 'application/spdx+json',
      content: 'loose sbom',
    });
    const graph = await load([repo]);
    expect(graph.tags()).toEqual([`${repo}:keep`]);
    expect(graph.sourcesOf(`${repo}@${loose.digest}`, 'referrer')).toEqual(
      [`${repo}@${sig.digest}`, `${repo}@${sbom.digest}`].sort(),
    );
    const plan = planCleanup(graph, [`${repo}:keep`]);
    expect(plan.delete.map((op) => op.image).sort()).toEqual(
      [loose, sig, sbom].map((p) => `${repo}@${p.digest}`).sort(),
    );
    await applyPlan(client, plan, { graph });
    expect(await listTags(reg, repo)).toEqual(['keep']);
    await verifyAfterApply([repo], plan, [`${repo}:keep`]);
  });

  it('an untag is skipped when the tag moved since the plan', async () => {
    const repo = 'moved';
    const a = await pushImage(reg, repo, { salt: 'a', tag: 'keep' });
    await tagManifest(reg, repo, 'extra', a.digest);
    const b = await pushImage(reg, repo, { salt: 'b', tag: 'other' });
    const graph = await load([repo]);
    const plan = planCleanup(graph, [`${repo}:keep`, `${repo}:other`]);
    expect(plan.untag).toEqual([{ tag: `${repo}:extra`, image: `${repo}@${a.digest}` }]);
    await tagManifest(reg, repo, 'extra', b.digest);
    const result = await applyPlan(client, plan, { graph });
    expect(result.outcomes[0]).toMatchObject({ status: 'skipped' });
    expect(result.outcomes[0]?.reason).toMatch(/changed since plan: the tag now points at/);
    expect(await listTags(reg, repo)).toEqual(['extra', 'keep', 'other']);
  });

  it('a signature pushed after the plan onto a planned subject saves the subject', async () => {
    const repo = 'latesig';
    await pushImage(reg, repo, { salt: 'k', tag: 'keep' });
    const old = await pushImage(reg, repo, { salt: 'o', tag: 'old' });
    const graph = await load([repo]);
    const plan = planCleanup(graph, [`${repo}:keep`]);
    expect(plan.delete.map((op) => op.image)).toEqual([`${repo}@${old.digest}`]);
    const sig = await pushCosign(reg, repo, old, 'sig');
    const result = await applyPlan(client, plan, { graph });
    expect(result.outcomes[0]).toMatchObject({ status: 'skipped' });
    expect(result.outcomes[0]?.reason).toMatch(/changed since plan/);
    expect(await manifestStatus(reg, repo, old.digest)).toBe(200);
    expect(await manifestStatus(reg, repo, sig.digest)).toBe(200);
  });
});

describe('registry with deletes disabled', () => {
  it('stops with the fix in the message before anything is touched', async () => {
    const off = await startRegistry({ deleteEnabled: false });
    try {
      const repo = 'app';
      const keep = await pushImage(off, repo, { tag: 'keep', salt: 'k' });
      await tagManifest(off, repo, 'alias', keep.digest);
      const drop = await pushImage(off, repo, { tag: 'drop', salt: 'd' });
      const offClient = new RegistryClient({ url: off.url });
      const graph = await loadGraph(offClient, { repositories: [repo] });
      const plan = planCleanup(graph, [`${repo}:keep`]);
      expect(plan.untag.length + plan.delete.length).toBe(2);
      const error = await applyPlan(offClient, plan, { graph }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeleteDisabledError);
      expect((error as Error).message).toMatch(/storage\.delete\.enabled: true/);
      expect((error as Error).message).toMatch(/REGISTRY_STORAGE_DELETE_ENABLED=true/);
      expect(await listTags(off, repo)).toEqual(['alias', 'drop', 'keep']);
      expect(await manifestStatus(off, repo, drop.digest)).toBe(200);
    } finally {
      await off.stop();
    }
  });
});

describe("the registry's own garbage collection after apply", () => {
  it('frees exactly the blobs the plan called reclaimable, none a kept tag needs', async () => {
    const gcReg = await startRegistry();
    try {
      const gcClient = new RegistryClient({ url: gcReg.url });
      const base = await pushImage(gcReg, 'app', { salt: 'base', layers: ['shared base layer'] });
      await pushImage(gcReg, 'app', {
        salt: 'keep',
        tag: 'keep',
        parent: base,
        layers: ['keep layer'],
      });
      await pushImage(gcReg, 'app', {
        salt: 'drop',
        tag: 'drop',
        parent: base,
        layers: ['drop layer'],
      });
      const x = await pushImage(gcReg, 'app', { salt: 'x', layers: ['x layer'] });
      await pushIndex(gcReg, 'app', { tag: 'old-multi', manifests: [x] });
      const graph = await loadGraph(gcClient);
      const plan = planCleanup(graph, ['app:keep']);
      const result = await applyPlan(gcClient, plan, { graph });
      expect(result.totals.failed).toBe(0);
      await gcReg.stop({ keepData: true });
      const { eligible } = await garbageCollect(gcReg.configPath, { dryRun: true });
      const reclaimable = plan.blobs.map((b) => b.id);
      expect(reclaimable.length).toBeGreaterThan(0);
      expect(eligible).toEqual(expect.arrayContaining(reclaimable));
      const kept = new Set(plan.keep.flatMap((k) => graph.blobsOf(k.image).map((b) => b.id)));
      expect(eligible.filter((blob) => kept.has(blob))).toEqual([]);
    } finally {
      await gcReg.stop();
    }
  });
});
