/**
 * Builds the demo's OCI image layout from images.yaml: every manifest, config, layer and
 * artifact is a content-addressed blob (`blobs/sha256/<hex>`), tags are `index.json` entries
 * with `org.opencontainers.image.ref.name`, untagged roots and referrers are entries without it.
 * Deterministic: the same fixture gives the same digests, so the demo's output is reproducible.
 *
 * Used by `npm run demo` and by the CLI and example tests (a real layout, no mocks).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';
const BASE_DIGEST = 'org.opencontainers.image.base.digest';

/** The fixture shipped with the demo. */
export const DEMO_FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'images.yaml');

/** One image of the fixture (see images.yaml). */
export interface FixtureImage {
  name: string;
  /** Tags pointing at it (index.json entries). */
  tags?: string[];
  /** An untagged index.json entry (a root without a tag). */
  root?: boolean;
  created?: string;
  layers?: string[];
  /** The fixture name of the image it is built on. */
  base?: string;
  /** `os/arch` of a platform manifest. */
  platform?: string;
  /** Makes it an index over these fixture names. */
  index?: string[];
  /** Makes it a referrer (artifact) of this fixture name. */
  subject?: string;
  artifactType?: string;
  payload?: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

/** What was built: the layout directory and the digest of each fixture name and tag. */
export interface DemoLayout {
  dir: string;
  /** Fixture name → manifest digest. */
  digests: Record<string, string>;
  /** Tag → manifest digest. */
  tags: Record<string, string>;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Reads and checks a fixture file. */
export async function readFixture(path = DEMO_FIXTURE): Promise<FixtureImage[]> {
  const doc = parse(await readFile(path, 'utf8')) as { images?: FixtureImage[] };
  if (!Array.isArray(doc?.images)) throw new Error(`${path}: needs a list "images"`);
  const names = new Set<string>();
  for (const [i, image] of doc.images.entries()) {
    if (typeof image?.name !== 'string') throw new Error(`${path}: images[${i}] needs a name`);
    if (names.has(image.name)) throw new Error(`${path}: image name ${image.name} is used twice`);
    names.add(image.name);
  }
  for (const image of doc.images) {
    for (const ref of [image.base, image.subject, ...(image.index ?? [])]) {
      if (ref !== undefined && !names.has(ref)) {
        throw new Error(
          `${path}: ${image.name} names ${ref}, which is not an image of the fixture`,
        );
      }
    }
  }
  return doc.images;
}

/**
 * Writes the layout for `images` into `dir` (created if needed; an existing layout there is
 * overwritten) and returns the digests.
 */
export async function buildLayout(dir: string, images: FixtureImage[]): Promise<DemoLayout> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const byName = new Map(images.map((image) => [image.name, image]));
  const built = new Map<string, Descriptor>();
  const building = new Set<string>();
  /** Each built image manifest's layers, so images built on it start with them. */
  const layerCache = new Map<string, Descriptor[]>();

  async function blob(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const digest = sha256(bytes);
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
    return { mediaType, digest, size: bytes.length };
  }
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  async function build(name: string): Promise<Descriptor> {
    const done = built.get(name);
    if (done) return done;
    if (building.has(name)) throw new Error(`fixture cycle through ${name}`);
    building.add(name);
    const image = byName.get(name) as FixtureImage;
    let descriptor: Descriptor;
    if (image.index) {
      const manifests: Descriptor[] = [];
      for (const child of image.index) {
        const d = await build(child);
        const platform = byName.get(child)?.platform;
        const [os, architecture] = (platform ?? 'linux/amd64').split('/') as [string, string];
        manifests.push({
          mediaType: d.mediaType,
          digest: d.digest,
          size: d.size,
          platform: { os, architecture },
        });
      }
      descriptor = await blob(
        json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }),
        OCI_INDEX,
      );
    } else if (image.subject) {
      const subject = await build(image.subject);
      const config = await blob(new TextEncoder().encode('{}'), OCI_EMPTY);
      const payload = await blob(
        new TextEncoder().encode(image.payload ?? image.name),
        'application/octet-stream',
      );
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: image.artifactType,
        config,
        layers: [payload],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        ...(image.created
          ? { annotations: { 'org.opencontainers.image.created': image.created } }
          : {}),
      };
      descriptor = await blob(json(manifest), OCI_MANIFEST);
      if (image.artifactType) descriptor.artifactType = image.artifactType;
    } else {
      const base = image.base ? await build(image.base) : undefined;
      const baseLayers = image.base ? await layersOf(image.base) : [];
      const own: Descriptor[] = [];
      for (const content of image.layers ?? [image.name]) {
        own.push(await blob(new TextEncoder().encode(content), OCI_LAYER));
      }
      const layers = [...baseLayers, ...own];
      const [os, architecture] = (image.platform ?? 'linux/amd64').split('/') as [string, string];
      const config = await blob(
        json({
          ...(image.created ? { created: image.created } : {}),
          architecture,
          os,
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        }),
        OCI_CONFIG,
      );
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config,
        layers,
        ...(base ? { annotations: { [BASE_DIGEST]: base.digest } } : {}),
      };
      descriptor = await blob(json(manifest), OCI_MANIFEST);
      layerCache.set(name, layers);
    }
    building.delete(name);
    built.set(name, descriptor);
    return descriptor;
  }
  async function layersOf(name: string): Promise<Descriptor[]> {
    await build(name);
    return layerCache.get(name) ?? [];
  }

  const entries: Descriptor[] = [];
  const digests: Record<string, string> = {};
  const tags: Record<string, string> = {};
  for (const image of images) {
    const d = await build(image.name);
    digests[image.name] = d.digest;
    const plain = { mediaType: d.mediaType, digest: d.digest, size: d.size };
    for (const tag of image.tags ?? []) {
      entries.push({ ...plain, annotations: { [REF_NAME]: tag } });
      tags[tag] = d.digest;
    }
    // Referrers and untagged roots are listed without a tag, as `oras` and `skopeo` do.
    if ((image.tags ?? []).length === 0 && (image.root || image.subject)) {
      entries.push({ ...plain, ...(d.artifactType ? { artifactType: d.artifactType } : {}) });
    }
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    `${JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }, null, 2)}\n`,
  );
  return { dir, digests, tags };
}

/** Builds the demo layout (from images.yaml, or another fixture) into `dir`. */
export async function buildDemoLayout(dir: string, fixture = DEMO_FIXTURE): Promise<DemoLayout> {
  return buildLayout(dir, await readFixture(fixture));
}
