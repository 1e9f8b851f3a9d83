/**
 * The same odd manifest through both adapters: a registry (the in-process fake, because
 * docker-registry 2.8 refuses to store unknown media types, artifact manifests and mismatched
 * Content-Types) and an OCI layout holding the same bytes, named by the same media type (the
 * registry's Content-Type, the layout's index.json descriptor). Both read it with the core's one
 * parser, so both load it the same way or fail with the same problem.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageGraph } from '../../src/index.js';
import { loadLayoutGraph } from '../../src/layout/index.js';
import { loadGraph, RegistryClient } from '../../src/registry/index.js';
import { type FakeRegistry, startFakeRegistry } from '../helpers/fake-registry.js';
import {
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  REF_NAME,
  writeBlob,
} from '../helpers/layout-builder.js';
import { useTempDir } from '../helpers/temp-dir.js';

const OCI_ARTIFACT = 'application/vnd.oci.artifact.manifest.v1+json';
const ODD = 'application/vnd.example.odd+json';

let fake: FakeRegistry;
const temp = useTempDir('regprune-same-content-');

beforeAll(async () => {
  fake = await startFakeRegistry();
});
afterAll(async () => {
  await fake?.stop();
});

interface Blobs {
  config: { mediaType: string; digest: string; size: number };
  layer: { mediaType: string; digest: string; size: number };
}

type Case = [name: string, body: (b: Blobs) => object, declared: string];

const CASES: Case[] = [
  ['an unknown media type', () => ({ mediaType: ODD, parts: [1, 2] }), ODD],
  [
    'an OCI artifact manifest (blobs, no config)',
    (b) => ({ mediaType: OCI_ARTIFACT, artifactType: 'application/spdx+json', blobs: [b.layer] }),
    OCI_ARTIFACT,
  ],
  [
    'a manifest without its own mediaType, named as an OCI manifest',
    (b) => ({ schemaVersion: 2, config: b.config, layers: [b.layer] }),
    OCI_MANIFEST,
  ],
  [
    'an OCI manifest named by an unknown type (its own type wins)',
    (b) => ({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: b.config, layers: [b.layer] }),
    'application/octet-stream',
  ],
  [
    'an annotation that is not a string',
    (b) => ({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: b.config,
      layers: [b.layer],
      annotations: { 'org.example.count': 3 },
    }),
    OCI_MANIFEST,
  ],
  [
    'a layer digest regprune cannot verify',
    (b) => ({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: b.config,
      layers: [{ ...b.layer, digest: `md5:${'0'.repeat(32)}` }],
    }),
    OCI_MANIFEST,
  ],
  [
    'an index served as an image manifest',
    () => ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }),
    OCI_MANIFEST,
  ],
  [
    'schemaVersion 1 under an OCI type',
    (b) => ({ schemaVersion: 1, mediaType: OCI_MANIFEST, config: b.config, layers: [] }),
    OCI_MANIFEST,
  ],
  [
    'a config without a size',
    (b) => ({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: b.config.digest },
      layers: [],
    }),
    OCI_MANIFEST,
  ],
];

type Outcome =
  | { problem: string }
  | {
      info: Record<string, unknown>;
      blobs: Array<{ id: string; role: string; size?: number }> | null;
    };

/** What a load made of the one image, or the problem it failed with (who declared the type left out). */
async function outcome(load: () => Promise<ImageGraph>, image: string): Promise<Outcome> {
  try {
    const graph = await load();
    const info = graph.imageInfo(image) ?? {};
    // An opaque manifest's blobs are a layout's business only (a registry's blobs belong to its GC).
    return { info: { ...info }, blobs: info.opaque === undefined ? graph.blobsOf(image) : null };
  } catch (error) {
    const message = (error as Error).message;
    const problem =
      /is malformed: (.*); regprune cannot tell/.exec(message)?.[1] ??
      /in OCI layout [^:]*: (.*); fix or recreate/.exec(message)?.[1] ??
      message;
    return { problem: problem.replace(/but .* names it as/, 'but <declared by> names it as') };
  }
}

describe('the same content through the registry (fake) and layout adapters', () => {
  it.each(CASES)('%s: same graph or same problem', async (name, body, declared) => {
    const dir = join(temp(), name.replace(/[^a-z0-9]+/gi, '-'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const config = { mediaType: OCI_CONFIG, ...(await writeBlob(dir, '{}')) };
    const layer = { mediaType: OCI_LAYER, ...(await writeBlob(dir, `layer of ${name}`)) };
    const manifest = body({ config, layer });
    const repo = `same/${name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')}`;
    const served = fake.put(repo, manifest, declared, 'odd');
    const stored = await writeBlob(dir, JSON.stringify(manifest));
    expect(stored.digest).toBe(served.digest);
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: declared, ...stored, annotations: { [REF_NAME]: 'odd' } }],
      }),
    );

    const client = new RegistryClient({ url: fake.url });
    const viaRegistry = await outcome(
      () => loadGraph(client, { repositories: [repo] }),
      `${repo}@${served.digest}`,
    );
    const viaLayout = await outcome(() => loadLayoutGraph(dir), `@${stored.digest}`);
    expect(viaLayout).toEqual(viaRegistry);
  });

  it('the outcomes are the ones documented (opaque, read, or refused naming the field)', async () => {
    // Pins the shared rule itself, so both adapters drifting together is caught too.
    const dir = join(temp(), 'pinned');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const config = { mediaType: OCI_CONFIG, ...(await writeBlob(dir, '{}')) };
    const layer = { mediaType: OCI_LAYER, ...(await writeBlob(dir, 'pinned layer')) };
    const expected: Record<string, RegExp | string> = {
      'an unknown media type': `unknown media type ${ODD}`,
      'an OCI artifact manifest (blobs, no config)': OCI_ARTIFACT,
      'a manifest without its own mediaType, named as an OCI manifest': OCI_MANIFEST,
      'an OCI manifest named by an unknown type (its own type wins)': OCI_MANIFEST,
      'an annotation that is not a string': /annotations\.org\.example\.count must be a string/,
      'a layer digest regprune cannot verify':
        /layers\[0\]\.digest "md5:0+" is not a sha256 or sha512 digest/,
      'an index served as an image manifest':
        /its "mediaType" is "application\/vnd\.oci\.image\.index\.v1\+json", but <declared by> names it as application\/vnd\.oci\.image\.manifest\.v1\+json/,
      'schemaVersion 1 under an OCI type': /"schemaVersion" must be 2, got 1/,
      'a config without a size': /config\.size must be a non-negative integer, got undefined/,
    };
    for (const [name, body, declared] of CASES) {
      const manifest = body({ config, layer });
      const stored = await writeBlob(dir, JSON.stringify(manifest));
      await writeFile(
        join(dir, 'index.json'),
        JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: declared, ...stored }] }),
      );
      const result = await outcome(() => loadLayoutGraph(dir), `@${stored.digest}`);
      const want = expected[name] ?? 'missing expectation';
      if (want instanceof RegExp)
        expect(result, name).toMatchObject({ problem: expect.stringMatching(want) });
      else if (want.startsWith('unknown media type'))
        expect(result, name).toMatchObject({ info: { opaque: want } });
      else expect(result, name).toMatchObject({ info: { mediaType: want } });
    }
  });
});
