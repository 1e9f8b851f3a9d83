/**
 * Any valid registry content loads (issue 15): a pair joined by two edge kinds, invalid base-image
 * digests and base images named with another spelling of this registry's host, on the real
 * docker-registry 2.8; OCI artifact manifests and unknown media types, which 2.8 refuses to store,
 * on the in-process fake.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import { type FakeRegistry, imageManifest, startFakeRegistry } from '../helpers/fake-registry.js';
import { listTags, manifestStatus, OCI_MANIFEST, pushImage, pushIndex } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

const BASE_DIGEST = 'org.opencontainers.image.base.digest';
const OCI_ARTIFACT = 'application/vnd.oci.artifact.manifest.v1+json';

let reg: RunningRegistry;
let client: RegistryClient;

beforeAll(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ url: reg.url });
});
afterAll(async () => {
  await reg?.stop();
});

describe('registry: any valid content loads (real docker-registry 2.8)', () => {
  it('an index that lists X and also has X as its subject loads with both edges', async () => {
    const repo = 'both';
    const x = await pushImage(reg, repo, { salt: 'x' });
    const y = await pushImage(reg, repo, { salt: 'y' });
    const index = await pushIndex(reg, repo, { tag: 'multi', manifests: [x, y], subject: x });
    const graph = await loadGraph(client, { repositories: [repo] });
    const I = `${repo}@${index.digest}`;
    expect(graph.targetsOf(I, 'child')).toEqual(
      [`${repo}@${x.digest}`, `${repo}@${y.digest}`].sort(),
    );
    expect(graph.targetsOf(I, 'referrer')).toEqual([`${repo}@${x.digest}`]);
    expect(planCleanup(graph, [`${repo}:multi`]).delete).toEqual([]);
  });

  it('an invalid base.digest is a plan warning, never a fetch by tag or a failed load', async () => {
    const repo = 'badbase';
    const latest = await pushImage(reg, repo, {
      tag: 'a',
      salt: 'a',
      annotations: { [BASE_DIGEST]: 'latest' },
    });
    const zz = await pushImage(reg, repo, {
      tag: 'b',
      salt: 'b',
      annotations: { [BASE_DIGEST]: 'sha256:zz' },
    });
    // The tag `latest` exists: before the fix the loader fetched it as the "base" by tag.
    await pushImage(reg, repo, { tag: 'latest', salt: 'c' });
    const graph = await loadGraph(client, { repositories: [repo] });
    expect(graph.hasImage(`${repo}@latest`)).toBe(false);
    for (const p of [latest, zz])
      expect(graph.targetsOf(`${repo}@${p.digest}`, 'parent')).toEqual([]);
    const plan = planCleanup(graph, [`${repo}:a`, `${repo}:b`, `${repo}:latest`]);
    expect(plan.warnings.map((w) => [w.code, w.id]).sort()).toEqual(
      [
        ['INVALID_BASE_DIGEST', `${repo}@${latest.digest}`],
        ['INVALID_BASE_DIGEST', `${repo}@${zz.digest}`],
      ].sort(),
    );
  });

  it('a base named 127.0.0.1:port keeps its parent when the registry is opened as localhost:port; a real apply keeps it', async () => {
    const local = new RegistryClient({ url: `http://localhost:${reg.port}` });
    const base = await pushImage(reg, 'tools/base', { tag: '2024.01', salt: 'base' });
    const app = await pushImage(reg, 'app', {
      tag: 'v1',
      salt: 'app',
      parent: base,
      parentName: `127.0.0.1:${reg.port}/tools/base:2024.01`,
    });
    // Another spelling of the same registry: upper case, and localhost for 127.0.0.1.
    const other = await pushImage(reg, 'app', {
      tag: 'v2',
      salt: 'app2',
      parent: base,
      parentName: `LOCALHOST:${reg.port}/tools/base:2024.01`,
    });
    // A base on another registry and a base that is gone are warnings.
    const foreign = await pushImage(reg, 'app', {
      tag: 'v3',
      salt: 'app3',
      parent: base,
      parentName: 'registry.example.com/tools/base:2024.01',
    });
    const graph = await loadGraph(local, { repositories: ['app', 'tools/base'] });
    const parent = `tools/base@${base.digest}`;
    expect(graph.targetsOf(`app@${app.digest}`, 'parent')).toEqual([parent]);
    expect(graph.targetsOf(`app@${other.digest}`, 'parent')).toEqual([parent]);
    const plan = planCleanup(graph, ['app:v1', 'app:v2', 'app:v3']);
    expect(plan.delete).toEqual([]);
    expect(plan.untag).toEqual([{ tag: 'tools/base:2024.01', image: parent }]);
    expect(plan.warnings.map((w) => [w.code, w.id])).toEqual([
      ['UNRESOLVED_BASE', `app@${foreign.digest}`],
    ]);
    expect(plan.warnings[0]?.message).toMatch(/registry\.example\.com/);

    const result = await applyPlan(local, plan, { graph });
    expect(result.totals.failed).toBe(0);
    expect(await manifestStatus(reg, 'tools/base', base.digest)).toBe(200);
    expect(await listTags(reg, 'app')).toEqual(expect.arrayContaining(['v1', 'v2', 'v3']));
    await pullsCompletely(`localhost:${reg.port}`, 'app', 'v1');
    await pullsCompletely(reg.host, 'app', 'v2');
  });
});

describe('registry: content 2.8 refuses to store (in-process fake)', () => {
  let fake: FakeRegistry;
  beforeAll(async () => {
    fake = await startFakeRegistry();
    // Like registries that honour Accept: a manifest of a type the client did not ask for is 404.
    fake.hook = (req, res, url) => {
      const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) return undefined;
      const ref = m[2] as string;
      const digest = ref.includes(':') ? ref : fake.tags(m[1] as string).get(ref);
      const found = digest ? fake.manifests.get(digest) : undefined;
      const accept = String(req.headers.accept ?? '');
      if (!found || found.mediaType === 'application/vnd.example.odd+json') return undefined;
      if (accept.split(',').some((t) => t.trim() === found.mediaType)) return undefined;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      return true;
    };
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it('an OCI artifact manifest is asked for in Accept and loads as a referrer of its subject (fake: 2.8 refuses artifact manifests)', async () => {
    const subject = fake.put('art', imageManifest('s'), OCI_MANIFEST, 'v1');
    const blob = {
      mediaType: 'application/spdx+json',
      digest: `sha256:${'b'.repeat(64)}`,
      size: 9,
    };
    const artifact = fake.put(
      'art',
      {
        mediaType: OCI_ARTIFACT,
        artifactType: 'application/spdx+json',
        blobs: [blob],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size },
      },
      OCI_ARTIFACT,
      'sbom',
    );
    const graph = await loadGraph(new RegistryClient({ url: fake.url }), { repositories: ['art'] });
    const A = `art@${artifact.digest}`;
    expect(graph.imageInfo(A)?.mediaType).toBe(OCI_ARTIFACT);
    expect(graph.imageInfo(A)?.artifactType).toBe('application/spdx+json');
    expect(graph.targetsOf(A, 'referrer')).toEqual([`art@${subject.digest}`]);
    expect(graph.blobsOf(A)).toEqual([{ id: blob.digest, role: 'layer', size: 9 }]);
  });

  it('a manifest of an unknown media type is an opaque image: kept, with a warning naming it (fake: 2.8 refuses unknown types)', async () => {
    const kept = fake.put('odd', imageManifest('k'), OCI_MANIFEST, 'v1');
    const old = fake.put('odd', imageManifest('o'), OCI_MANIFEST, 'old');
    const odd = fake.put(
      'odd',
      { mediaType: 'application/vnd.example.odd+json', parts: [] },
      'application/vnd.example.odd+json',
      'odd',
    );
    const graph = await loadGraph(new RegistryClient({ url: fake.url }), { repositories: ['odd'] });
    const O = `odd@${odd.digest}`;
    expect(graph.imageInfo(O)?.opaque).toBe('unknown media type application/vnd.example.odd+json');
    const plan = planCleanup(graph, ['odd:v1']);
    expect(plan.delete.map((op) => op.image)).toEqual([`odd@${old.digest}`]);
    expect(plan.keep.map((k) => k.image)).toEqual([`odd@${kept.digest}`, O].sort());
    expect(plan.warnings).toEqual([
      expect.objectContaining({
        code: 'OPAQUE_IMAGE',
        id: O,
        message: expect.stringMatching(/example\.odd/),
      }),
    ]);
  });
});

describe('registry: broken content is reported (real docker-registry 2.8)', () => {
  it('an index whose children answer 404 is a plan warning naming the missing children', async () => {
    const repo = 'ghost';
    const x = await pushImage(reg, repo, { salt: 'x' });
    const y = await pushImage(reg, repo, { salt: 'y' });
    const index = await pushIndex(reg, repo, { tag: 'multi', manifests: [x, y] });
    // 2.8 lets a tagged index's child be deleted (no referential check).
    const response = await fetch(`${reg.url}/v2/${repo}/manifests/${y.digest}`, {
      method: 'DELETE',
    });
    expect(response.status).toBe(202);
    const graph = await loadGraph(client, { repositories: [repo] });
    const plan = planCleanup(graph, [`${repo}:multi`]);
    expect(plan.warnings).toEqual([
      expect.objectContaining({
        code: 'MISSING_CHILDREN',
        id: `${repo}@${index.digest}`,
        message: expect.stringContaining(y.digest),
      }),
    ]);
    expect(plan.warnings[0]?.message).not.toContain(x.digest);
  });
});

describe('registry: dangling tags (real docker-registry 2.8)', () => {
  it('a tag that is listed but answers 404 is a plan warning naming it', async () => {
    const repo = 'dangling';
    const kept = await pushImage(reg, repo, { tag: 'v1', salt: 'v1' });
    await pushImage(reg, repo, { tag: 'v2', salt: 'v2' });
    // What an interrupted DELETE leaves: the tag link stays, the manifest's revision is gone.
    const gone = await pushImage(reg, repo, { tag: 'ghost', salt: 'ghost' });
    const revision = `${reg.dataDir}/docker/registry/v2/repositories/${repo}/_manifests/revisions/sha256/${gone.digest.slice(7)}`;
    await rm(revision, { recursive: true, force: true });
    expect(await listTags(reg, repo)).toContain('ghost');
    const graph = await loadGraph(client, { repositories: [repo] });
    expect(graph.hasImage(`${repo}@${kept.digest}`)).toBe(true);
    const plan = planCleanup(graph, [`${repo}:v1`]);
    expect(plan.warnings).toEqual([
      expect.objectContaining({
        code: 'DANGLING_TAG',
        id: `${repo}:ghost`,
        message: expect.stringContaining('404'),
      }),
    ]);
  });
});
