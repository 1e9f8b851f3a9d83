import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidLayoutError, layoutImageId, loadLayoutGraph } from '../../src/layout/index.js';
import {
  type BuiltLayout,
  blobPath,
  buildLayout,
  type Descriptor,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  type LayoutSpec,
  OCI_INDEX,
  OCI_MANIFEST,
  REF_NAME,
  readIndexJson,
  SBOM_TYPE,
  SIGNATURE_TYPE,
  sha256,
  writeBlob,
  writeIndexJson,
} from '../helpers/layout-builder.js';
import { skopeo, umoci } from '../helpers/layout-tools.js';
import { useTempDir } from '../helpers/temp-dir.js';

const work = useTempDir('regprune-layout-load-');

let counter = 0;
async function build(spec: LayoutSpec): Promise<BuiltLayout> {
  return buildLayout(join(work(), `l${counter++}`), spec);
}

const id = (built: BuiltLayout, name: string) =>
  layoutImageId((built.desc[name] as Descriptor).digest);

/** A multi-arch image on a base, nested in an outer index, with an SBOM and a signature of it. */
const RICH: LayoutSpec = {
  images: {
    base: { layers: ['os'], created: '2020-01-01T00:00:00Z' },
    amd: {
      layers: ['os', 'amd'],
      base: 'base',
      platform: { os: 'linux', architecture: 'amd64' },
      created: '2021-02-03T04:05:06Z',
    },
    arm: { layers: ['os', 'arm'], base: 'base', platform: { os: 'linux', architecture: 'arm64' } },
    multi: { kind: 'index', children: ['amd', 'arm'] },
    outer: { kind: 'index', children: ['multi'] },
    sbom: { subject: 'multi', artifactType: SBOM_TYPE },
    sig: { subject: 'sbom', artifactType: SIGNATURE_TYPE },
  },
  tags: { latest: 'multi', nested: 'outer', base: 'base' },
  untagged: ['sbom', 'sig'],
};

describe('loadLayoutGraph', () => {
  it('reads tags, nested index children, referrers, parents, blobs with sizes and dates', async () => {
    const b = await build(RICH);
    const g = await loadLayoutGraph(b.dir);
    const I = (name: string) => id(b, name);

    expect(g.tags()).toEqual(['base', 'latest', 'nested']);
    expect(g.tagTarget('latest')).toBe(I('multi'));
    expect(g.tagTarget('nested')).toBe(I('outer'));
    expect(g.images()).toEqual(
      ['base', 'amd', 'arm', 'multi', 'outer', 'sbom', 'sig'].map(I).sort(),
    );
    expect(g.targetsOf(I('outer'), 'child')).toEqual([I('multi')]);
    expect(g.targetsOf(I('multi'), 'child').sort()).toEqual([I('amd'), I('arm')].sort());
    // The signature is attached to the SBOM, which is attached to the multi-arch index.
    expect(g.targetsOf(I('sig'), 'referrer')).toEqual([I('sbom')]);
    expect(g.targetsOf(I('sbom'), 'referrer')).toEqual([I('multi')]);
    expect(g.sourcesOf(I('multi'), 'referrer')).toEqual([I('sbom')]);
    expect(g.targetsOf(I('amd'), 'parent')).toEqual([I('base')]);
    expect(g.targetsOf(I('arm'), 'parent')).toEqual([I('base')]);
    expect(g.targetsOf(I('base'), 'parent')).toEqual([]);

    // Blob ids are bare digests with the sizes of their files; the config is marked as such.
    for (const name of ['base', 'amd', 'arm', 'sbom', 'sig']) {
      const [, config, ...layers] = b.own[name] as string[];
      const blobs = g.blobsOf(I(name));
      expect(blobs.map((x) => x.id).sort(), name).toEqual([config, ...layers].sort());
      expect(blobs.find((x) => x.role === 'config')?.id, name).toBe(config);
      for (const blob of blobs) {
        expect(blob.size, blob.id).toBe((await stat(blobPath(b.dir, blob.id))).size);
      }
    }
    expect(g.blobsOf(I('multi'))).toEqual([]);

    expect(g.imageInfo(I('base'))?.created).toBe('2020-01-01T00:00:00Z');
    expect(g.imageInfo(I('amd'))?.created).toBe('2021-02-03T04:05:06Z');
    expect(g.imageInfo(I('amd'))?.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(g.imageInfo(I('sbom'))?.artifactType).toBe(SBOM_TYPE);
    expect(g.imageInfo(I('multi'))?.mediaType).toBe(OCI_INDEX);
    expect(g.imageInfo(I('multi'))?.size).toBe(b.desc.multi?.size);

    const undated = await loadLayoutGraph(b.dir, { dates: false });
    expect(undated.imageInfo(I('base'))?.created).toBeUndefined();
    expect(undated.images()).toEqual(g.images());
  });

  it('takes a base annotation from the index.json descriptor too; a base outside the layout is no parent', async () => {
    const b = await build({
      images: {
        base: { layers: ['os'] },
        app: { layers: ['os', 'app'], base: 'base', baseOnDescriptor: true },
        stray: { layers: ['stray'] },
      },
      tags: { app: 'app', base: 'base' },
    });
    const g = await loadLayoutGraph(b.dir);
    expect(g.targetsOf(id(b, 'app'), 'parent')).toEqual([id(b, 'base')]);

    // An image whose base digest names a blob no index.json entry reaches: no edge, no error.
    const index = await readIndexJson(b.dir);
    const foreign = sha256('not in this layout');
    (index.manifests[0] as Descriptor).annotations = {
      [REF_NAME]: 'app',
      'org.opencontainers.image.base.digest': foreign,
    };
    index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== 'base');
    await writeIndexJson(b.dir, index);
    const g2 = await loadLayoutGraph(b.dir);
    expect(g2.images()).toEqual([id(b, 'app')]);
    expect(g2.targetsOf(id(b, 'app'), 'parent')).toEqual([]);
  });

  it('reads Docker schema 2 manifest lists and manifests', async () => {
    const b = await build({
      images: {
        amd: { docker: true, layers: ['d1'], platform: { os: 'linux', architecture: 'amd64' } },
        arm: { docker: true, layers: ['d2'], platform: { os: 'linux', architecture: 'arm64' } },
        list: { kind: 'index', docker: true, children: ['amd', 'arm'] },
      },
      tags: { v1: 'list' },
    });
    const g = await loadLayoutGraph(b.dir);
    expect(g.imageInfo(id(b, 'list'))?.mediaType).toBe(DOCKER_LIST);
    expect(g.imageInfo(id(b, 'amd'))?.mediaType).toBe(DOCKER_MANIFEST);
    expect(g.targetsOf(id(b, 'list'), 'child').sort()).toEqual([id(b, 'amd'), id(b, 'arm')].sort());
    const config = g.blobsOf(id(b, 'amd')).find((x) => x.role === 'config');
    expect(config?.id).toBe(b.own.amd?.[1]);
  });

  it('leaves out manifests no index.json entry reaches, and subjects that are not in the layout', async () => {
    const b = await build({
      images: {
        app: { layers: ['a'] },
        gone: { layers: ['g'] },
        sig: { subject: 'gone', artifactType: SIGNATURE_TYPE },
      },
      tags: { app: 'app' },
      untagged: ['sig'],
    });
    // `gone` was never in index.json, but the signature names it: it is loaded as the subject.
    const before = await loadLayoutGraph(b.dir);
    expect(before.images()).toEqual([id(b, 'app'), id(b, 'gone'), id(b, 'sig')].sort());
    expect(before.targetsOf(id(b, 'sig'), 'referrer')).toEqual([id(b, 'gone')]);
    // Without its manifest, the signature's subject is not in the layout.
    await unlink(blobPath(b.dir, (b.desc.gone as Descriptor).digest));
    const g = await loadLayoutGraph(b.dir);
    expect(g.images()).toEqual([id(b, 'app'), id(b, 'sig')].sort());
    expect(g.targetsOf(id(b, 'sig'), 'referrer')).toEqual([]);
  });

  it('reads a layout umoci wrote (umoci init, new, config)', async () => {
    const dir = join(work(), 'umoci');
    await umoci('init', '--layout', dir);
    await umoci('new', '--image', `${dir}:base`);
    await umoci('config', '--image', `${dir}:base`, '--tag', 'derived', '--config.label', 'a=b');
    const g = await loadLayoutGraph(dir);
    expect(g.tags()).toEqual(['base', 'derived']);
    expect(g.images()).toHaveLength(2);
    const index = await readIndexJson(dir);
    for (const entry of index.manifests) {
      const image = layoutImageId(entry.digest);
      expect(g.tagTarget(entry.annotations?.[REF_NAME] as string)).toBe(image);
      expect(g.imageInfo(image)?.mediaType).toBe(OCI_MANIFEST);
      // umoci writes a creation date into each config.
      expect(Number.isNaN(Date.parse(g.imageInfo(image)?.created ?? ''))).toBe(false);
      for (const blob of g.blobsOf(image)) {
        expect(blob.size).toBe((await stat(blobPath(dir, blob.id))).size);
      }
    }
  });

  it('reads a layout skopeo wrote (skopeo copy --all of a multi-arch index)', async () => {
    const b = await build(RICH);
    const dir = join(work(), 'skopeo');
    await skopeo('copy', '--all', '--quiet', `oci:${b.dir}:latest`, `oci:${dir}:copied`);
    const g = await loadLayoutGraph(dir);
    expect(g.tags()).toEqual(['copied']);
    // skopeo re-serialises the manifests and compresses the layers (new digests) but keeps the
    // structure: an index of two platform manifests, each with a config and two layers.
    const top = g.tagTarget('copied') as string;
    expect(g.imageInfo(top)?.mediaType).toBe(OCI_INDEX);
    const children = g.targetsOf(top, 'child');
    expect(g.images().sort()).toEqual([top, ...children].sort());
    expect(children.map((c) => g.imageInfo(c)?.platform?.architecture).sort()).toEqual([
      'amd64',
      'arm64',
    ]);
    for (const image of children) {
      const roles = g.blobsOf(image).map((x) => x.role);
      expect(roles.sort()).toEqual(['config', 'layer', 'layer']);
      for (const blob of g.blobsOf(image)) {
        expect(blob.size).toBe((await stat(blobPath(dir, blob.id))).size);
      }
    }
  });
});

/** Asserts that loading `dir` fails with an InvalidLayoutError naming `file` and matching `problem`. */
async function expectInvalid(dir: string, file: string, problem: RegExp): Promise<void> {
  const error = await loadLayoutGraph(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidLayoutError);
  const e = error as InvalidLayoutError;
  expect(e.file).toBe(file);
  expect(e.dir).toBe(dir);
  expect(e.code).toBe('INVALID_LAYOUT');
  expect(e.message).toContain(file);
  expect(e.message).toMatch(problem);
}

const rel = (b: BuiltLayout, digest: string) => relative(b.dir, blobPath(b.dir, digest));

describe('loadLayoutGraph on malformed layouts', () => {
  const SIMPLE: LayoutSpec = {
    images: {
      app: { layers: ['a', 'b'], platform: { os: 'linux', architecture: 'amd64' } },
      multi: { kind: 'index', children: ['app'] },
    },
    tags: { v1: 'multi', app: 'app' },
  };

  it('a missing oci-layout or index.json, or invalid JSON in them', async () => {
    const b = await build(SIMPLE);
    await unlink(join(b.dir, 'oci-layout'));
    await expectInvalid(b.dir, 'oci-layout', /is missing \(is this an OCI image layout\?\)/);
    await writeFile(join(b.dir, 'oci-layout'), '{"imageLayoutVersion": 1.0');
    await expectInvalid(b.dir, 'oci-layout', /is not valid JSON/);
    await writeFile(join(b.dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await expectInvalid(b.dir, 'oci-layout', /unsupported imageLayoutVersion "2.0.0"/);
    await writeFile(join(b.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(b.dir, 'index.json'), '{"schemaVersion":2,"manifests":[');
    await expectInvalid(b.dir, 'index.json', /is not valid JSON/);
    await writeFile(join(b.dir, 'index.json'), '{"schemaVersion":2}');
    await expectInvalid(b.dir, 'index.json', /"manifests" must be an array/);
    await unlink(join(b.dir, 'index.json'));
    await expectInvalid(b.dir, 'index.json', /is missing/);
  });

  it('a missing manifest, index child, config or layer blob', async () => {
    const b = await build(SIMPLE);
    const [app, config, layer] = b.own.app as [string, string, string];
    await unlink(blobPath(b.dir, layer));
    await expectInvalid(b.dir, rel(b, layer), /layers\[0\] needs it, but it is missing \(ENOENT\)/);
    await writeBlob(b.dir, 'a');
    await unlink(blobPath(b.dir, config));
    await expectInvalid(b.dir, rel(b, config), /config needs it, but it is missing/);
    await buildLayout(b.dir, SIMPLE);
    await unlink(blobPath(b.dir, app));
    await expectInvalid(
      b.dir,
      rel(b, app),
      /index.json manifests\[1\] names it, but it cannot be read \(ENOENT\)/,
    );
    const multi = (b.desc.multi as Descriptor).digest;
    await unlink(blobPath(b.dir, multi));
    await expectInvalid(b.dir, rel(b, multi), /index.json manifests\[0\] names it/);
  });

  it('a manifest whose content does not match its digest or size', async () => {
    const b = await build(SIMPLE);
    const app = (b.desc.app as Descriptor).digest;
    const original = JSON.stringify(
      JSON.parse(await readFile(blobPath(b.dir, app), 'utf8')),
      null,
      2,
    );
    // Same length, different bytes: only the digest check can catch it.
    await writeFile(blobPath(b.dir, app), original.replace('"layers"', '"layerz"'));
    await expectInvalid(
      b.dir,
      rel(b, app),
      /content does not match its digest \(it hashes to sha256:/,
    );
    await writeFile(blobPath(b.dir, app), `${original}\n`);
    await expectInvalid(b.dir, rel(b, app), /says it has \d+ bytes, the file has \d+/);
  });

  it('a layer whose size differs from its descriptor', async () => {
    const b = await build(SIMPLE);
    const layer = (b.own.app as string[])[2] as string;
    await writeFile(blobPath(b.dir, layer), 'longer than before');
    await expectInvalid(b.dir, rel(b, layer), /layers\[0\] says it has 1 bytes, the file has 18/);
  });

  it('an unknown media type, in index.json or in a nested index, is an opaque image; the content’s own media type wins over an unknown one; a known one that contradicts the content fails', async () => {
    const b = await build(SIMPLE);
    const index = await readIndexJson(b.dir);
    (index.manifests[0] as Descriptor).mediaType = 'application/vnd.example.thing+json';
    await writeIndexJson(b.dir, index);
    // The index names its own media type, so it is read as the index it is (a registry reads the
    // same bytes the same way whatever its Content-Type says).
    const first = await loadLayoutGraph(b.dir);
    expect(first.imageInfo(id(b, 'multi'))?.opaque).toBeUndefined();
    expect(first.imageInfo(id(b, 'multi'))?.mediaType).toBe(OCI_INDEX);
    expect(first.targetsOf(id(b, 'multi'), 'child').length).toBeGreaterThan(0);

    const app = b.desc.app as Descriptor;
    const schema1 = await writeBlob(b.dir, '{"schemaVersion":1}');
    const odd = await writeBlob(
      b.dir,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          app,
          { ...schema1, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' },
        ],
      }),
    );
    await writeIndexJson(b.dir, {
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_INDEX, ...odd, annotations: { [REF_NAME]: 'odd' } }],
    });
    const nested = await loadLayoutGraph(b.dir);
    expect(nested.targetsOf(layoutImageId(odd.digest), 'child')).toEqual(
      [id(b, 'app'), layoutImageId(schema1.digest)].sort(),
    );
    expect(nested.imageInfo(layoutImageId(schema1.digest))?.opaque).toMatch(/manifest\.v1\+json/);

    // index.json calls the manifest an index.
    await writeIndexJson(b.dir, {
      schemaVersion: 2,
      manifests: [{ ...app, mediaType: OCI_INDEX }],
    });
    await expectInvalid(
      b.dir,
      rel(b, app.digest),
      /its "mediaType" is "application\/vnd.oci.image.manifest.v1\+json", but index.json manifests\[0\] names it as application\/vnd.oci.image.index.v1\+json/,
    );
  });

  it.each([
    ['', /the ref name "", which is not a valid/],
    ['-leading', /not a valid/],
    ['has space', /not a valid/],
    ['trailing/', /not a valid/],
    ['a//b', /not a valid/],
  ])('a bad ref name %j', async (ref, problem) => {
    const b = await build(SIMPLE);
    const index = await readIndexJson(b.dir);
    (index.manifests[1] as Descriptor).annotations = { [REF_NAME]: ref };
    await writeIndexJson(b.dir, index);
    await expectInvalid(b.dir, 'index.json', problem);
  });

  it('accepts full references as ref names, and rejects one ref name on two digests', async () => {
    const b = await build(SIMPLE);
    const index = await readIndexJson(b.dir);
    (index.manifests[1] as Descriptor).annotations = {
      [REF_NAME]: 'docker.io/library/app:1.0--rc_1+build',
    };
    await writeIndexJson(b.dir, index);
    expect((await loadLayoutGraph(b.dir)).tags()).toEqual([
      'docker.io/library/app:1.0--rc_1+build',
      'v1',
    ]);
    (index.manifests[1] as Descriptor).annotations = { [REF_NAME]: 'v1' };
    await writeIndexJson(b.dir, index);
    await expectInvalid(
      b.dir,
      'index.json',
      /names tag "v1" for sha256:.*but an earlier entry names it for sha256:/,
    );
  });

  it('an invalid digest in a descriptor cannot escape the blobs directory', async () => {
    const b = await build(SIMPLE);
    await writeIndexJson(b.dir, {
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, digest: 'sha256:../../etc/passwd', size: 1 }],
    });
    await expectInvalid(
      b.dir,
      'index.json',
      /manifests\[0\]\.digest "sha256:\.\.\/\.\.\/etc\/passwd" is not a valid digest/,
    );
  });
});
