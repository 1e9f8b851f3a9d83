/**
 * Any valid layout content loads (issue 15): a pair joined by two edge kinds, OCI artifact
 * manifests, unknown media types (opaque images, kept, their blobs never collected) and invalid or
 * unresolvable base-image annotations (plan warnings, not parent edges).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import { applyLayoutPlan, layoutImageId, loadLayoutGraph } from '../../src/layout/index.js';
import {
  BASE_DIGEST,
  blobPath,
  buildLayout,
  type Descriptor,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  REF_NAME,
  readIndexJson,
  writeBlob,
  writeIndexJson,
} from '../helpers/layout-builder.js';
import { useTempDir } from '../helpers/temp-dir.js';

const work = useTempDir('regprune-layout-robust-');
const OCI_ARTIFACT = 'application/vnd.oci.artifact.manifest.v1+json';
let counter = 0;
const fresh = () => join(work(), `l${counter++}`);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A plain image manifest blob with one layer; `annotations` go on the manifest. */
async function writeImage(
  dir: string,
  salt: string,
  annotations?: Record<string, string>,
): Promise<Descriptor> {
  const config = await writeBlob(dir, JSON.stringify({ architecture: 'amd64', os: 'linux', salt }));
  const layer = await writeBlob(dir, `layer ${salt}`);
  const manifest = await writeBlob(
    dir,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...config },
      layers: [{ mediaType: OCI_LAYER, ...layer }],
      ...(annotations ? { annotations } : {}),
    }),
  );
  return { mediaType: OCI_MANIFEST, ...manifest };
}

const tagged = (d: Descriptor, tag: string): Descriptor => ({
  ...d,
  annotations: { [REF_NAME]: tag },
});

describe('layout: any valid content loads', () => {
  it('an index that lists X and also has X as its subject: both edges, the load does not fail', async () => {
    const dir = fresh();
    const built = await buildLayout(dir, { images: { x: { layers: ['x'] } }, tags: { x: 'x' } });
    const x = built.desc.x as Descriptor;
    const index = await writeBlob(
      dir,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: x.mediaType, digest: x.digest, size: x.size }],
        subject: { mediaType: x.mediaType, digest: x.digest, size: x.size },
      }),
    );
    const root = await readIndexJson(dir);
    root.manifests.push(tagged({ mediaType: OCI_INDEX, ...index }, 'both'));
    await writeIndexJson(dir, root);
    const g = await loadLayoutGraph(dir);
    const I = layoutImageId(index.digest);
    expect(g.targetsOf(I, 'child')).toEqual([layoutImageId(x.digest)]);
    expect(g.targetsOf(I, 'referrer')).toEqual([layoutImageId(x.digest)]);
    expect(planCleanup(g, ['both']).delete).toEqual([]);
  });

  it('an OCI artifact manifest: its blobs and subject, read by the shared parser', async () => {
    const dir = fresh();
    await buildLayout(dir, { images: { app: {} }, tags: { v1: 'app' } });
    const app = (await readIndexJson(dir)).manifests[0] as Descriptor;
    const sbom = await writeBlob(dir, 'sbom content');
    const artifact = await writeBlob(
      dir,
      JSON.stringify({
        mediaType: OCI_ARTIFACT,
        artifactType: 'application/spdx+json',
        blobs: [{ mediaType: 'application/spdx+json', ...sbom }],
        subject: { mediaType: app.mediaType, digest: app.digest, size: app.size },
      }),
    );
    const root = await readIndexJson(dir);
    root.manifests.push({ mediaType: OCI_ARTIFACT, ...artifact });
    await writeIndexJson(dir, root);
    const g = await loadLayoutGraph(dir);
    const A = layoutImageId(artifact.digest);
    expect(g.targetsOf(A, 'referrer')).toEqual([layoutImageId(app.digest)]);
    expect(g.blobsOf(A)).toEqual([{ id: sbom.digest, role: 'layer', size: sbom.size }]);
    expect(g.imageInfo(A)?.artifactType).toBe('application/spdx+json');
  });

  it('an unknown media type is an opaque image: kept with a warning, the blobs it names are never collected', async () => {
    const dir = fresh();
    await buildLayout(dir, {
      images: { app: {}, old: { layers: ['old'] } },
      tags: { v1: 'app', old: 'old' },
    });
    const used = await writeBlob(dir, 'something the odd manifest needs');
    const odd = await writeBlob(
      dir,
      JSON.stringify({
        mediaType: 'application/vnd.example.thing+json',
        parts: [{ mediaType: 'application/octet-stream', ...used }],
      }),
    );
    const root = await readIndexJson(dir);
    root.manifests.push({ mediaType: 'application/vnd.example.thing+json', ...odd });
    await writeIndexJson(dir, root);
    const g = await loadLayoutGraph(dir);
    const O = layoutImageId(odd.digest);
    expect(g.imageInfo(O)?.opaque).toBe('unknown media type application/vnd.example.thing+json');
    const plan = planCleanup(g, ['v1']);
    expect(plan.delete.map((op) => op.image)).not.toContain(O);
    expect(plan.keep.find((k) => k.image === O)?.note).toMatch(/unknown media type/);
    expect(plan.warnings).toContainEqual(expect.objectContaining({ code: 'OPAQUE_IMAGE', id: O }));
    expect(plan.delete.length).toBeGreaterThan(0);
    await applyLayoutPlan(dir, plan);
    expect(await exists(blobPath(dir, odd.digest))).toBe(true);
    expect(await exists(blobPath(dir, used.digest))).toBe(true);
    expect((await readIndexJson(dir)).manifests.map((d) => d.digest)).toContain(odd.digest);
  });

  it('an invalid base digest is a warning, not a parent edge, and does not fail the load', async () => {
    const dir = fresh();
    await buildLayout(dir, { images: { base: {} }, tags: { base: 'base' } });
    const gone = `sha256:${'e'.repeat(64)}`;
    const cases = { latest: 'latest', zz: 'sha256:zz', gone };
    const root = await readIndexJson(dir);
    const images: Record<string, Descriptor> = {};
    for (const [tag, value] of Object.entries(cases)) {
      images[tag] = await writeImage(dir, tag, { [BASE_DIGEST]: value });
      root.manifests.push(tagged(images[tag] as Descriptor, tag));
    }
    await writeIndexJson(dir, root);
    const g = await loadLayoutGraph(dir);
    for (const d of Object.values(images))
      expect(g.targetsOf(layoutImageId(d.digest), 'parent')).toEqual([]);
    const plan = planCleanup(g, ['latest', 'zz', 'gone', 'base']);
    const codes = plan.warnings.map((w) => [w.code, w.id]);
    expect(codes).toContainEqual([
      'INVALID_BASE_DIGEST',
      layoutImageId(images.latest?.digest ?? ''),
    ]);
    expect(codes).toContainEqual(['INVALID_BASE_DIGEST', layoutImageId(images.zz?.digest ?? '')]);
    expect(codes).toContainEqual(['UNRESOLVED_BASE', layoutImageId(images.gone?.digest ?? '')]);
    expect(plan.warnings.find((w) => w.code === 'INVALID_BASE_DIGEST')?.message).toMatch(
      /"(latest|sha256:zz)"/,
    );
  });
});

describe('an untagged base image named only by its base-digest annotation', () => {
  const spec = {
    images: {
      base: { layers: ['os'] },
      app: { layers: ['os', 'app'], base: 'base' },
      old: { layers: ['os', 'old'], base: 'base' },
    },
    tags: { latest: 'app', old: 'old' },
  };

  it('is loaded as the parent, and applying a plan that keeps its child keeps its manifest', async () => {
    const dir = fresh();
    const built = await buildLayout(dir, spec);
    const base = layoutImageId(built.desc.base?.digest as string);
    const graph = await loadLayoutGraph(dir);
    expect(graph.targetsOf(graph.tagTarget('latest') as string, 'parent')).toEqual([base]);
    const plan = planCleanup(graph, ['latest']);
    expect(plan.delete.map((op) => op.image)).not.toContain(base);
    await applyLayoutPlan(dir, plan);
    expect(await exists(blobPath(dir, built.desc.base?.digest as string))).toBe(true);
    expect(await exists(blobPath(dir, built.desc.old?.digest as string))).toBe(false);
  });
});
