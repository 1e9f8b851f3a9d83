/**
 * Writes real OCI image layouts for tests from a small declarative spec: images with layers and a
 * config, indexes (nested too), referrers with a `subject`, base-image annotations and tags. Every
 * blob is content-addressed for real (its file name is the sha256 of its bytes), so independent
 * tools (umoci, skopeo) read the result. Also: snapshots of a layout's files for "nothing changed"
 * checks, and a reachability walk over the files that does not use regprune's own reader.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const REF_NAME = 'org.opencontainers.image.ref.name';
export const BASE_DIGEST = 'org.opencontainers.image.base.digest';

export const SIGNATURE_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SBOM_TYPE = 'application/spdx+json';

/** A single-platform image (or, with `artifactType`, a referrer artifact). */
export interface ImageSpec {
  kind?: 'image';
  /** Layer contents; equal strings anywhere in the layout make one shared blob. */
  layers?: string[];
  /** The config's `created`. */
  created?: string;
  /** Name of the image this one is built on: written as the base-digest annotation. */
  base?: string;
  /** Put the base annotation on the index.json descriptor instead of the manifest. */
  baseOnDescriptor?: boolean;
  /** Name of the image or index this one is attached to (`subject`). */
  subject?: string;
  /** Makes it an artifact: `artifactType` set, the empty config, one layer of the given type. */
  artifactType?: string;
  /** Docker schema 2 media types instead of OCI ones. */
  docker?: boolean;
  /** Platform written on the descriptor when an index lists it. */
  platform?: { os: string; architecture: string };
  /** Extra config content, to tell otherwise equal images apart. Default: the image's name. */
  salt?: string;
}

/** An image index (multi-arch image) listing other images or indexes by name. */
export interface IndexSpec {
  kind: 'index';
  children: string[];
  subject?: string;
  artifactType?: string;
  docker?: boolean;
}

export interface LayoutSpec {
  images: Record<string, ImageSpec | IndexSpec>;
  /** `tag → image name`: index.json entries with a ref name. */
  tags?: Record<string, string>;
  /** Names listed in index.json without a ref name (e.g. referrers, as oras writes them). */
  untagged?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
  artifactType?: string;
}

export interface BuiltLayout {
  dir: string;
  /** Image name → descriptor of its manifest or index. */
  desc: Record<string, Descriptor>;
  /** Image name → its manifest digest plus its own config and layer digests (not children's). */
  own: Record<string, string[]>;
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return join(dir, 'blobs', alg, hex);
}

/** Writes a content-addressed blob and returns its digest and size. */
export async function writeBlob(
  dir: string,
  content: Uint8Array | string,
): Promise<{ digest: string; size: number }> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const digest = sha256(bytes);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(blobPath(dir, digest), bytes);
  return { digest, size: bytes.length };
}

/**
 * Writes the layout `spec` describes into `dir` (created, or emptied first). Images may be listed in
 * any order; a name used before it is defined is resolved first. Cycles throw.
 */
export async function buildLayout(dir: string, spec: LayoutSpec): Promise<BuiltLayout> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const desc: Record<string, Descriptor> = {};
  const own: Record<string, string[]> = {};
  const busy = new Set<string>();

  const resolve = async (name: string): Promise<Descriptor> => {
    const done = desc[name];
    if (done) return done;
    const node = spec.images[name];
    if (!node) throw new Error(`layout spec: unknown image ${JSON.stringify(name)}`);
    if (busy.has(name)) throw new Error(`layout spec: cycle through ${name}`);
    busy.add(name);
    const subject = node.subject !== undefined ? await resolve(node.subject) : undefined;
    let manifest: Record<string, unknown>;
    let mediaType: string;
    const files: string[] = [];
    if (node.kind === 'index') {
      const manifests: Descriptor[] = [];
      for (const child of node.children) {
        const d = await resolve(child);
        const platform = (spec.images[child] as ImageSpec).platform;
        manifests.push(platform ? { ...d, platform } : d);
      }
      mediaType = node.docker ? DOCKER_LIST : OCI_INDEX;
      // The name annotation keeps two indexes of the same children apart.
      manifest = { schemaVersion: 2, mediaType, manifests, annotations: { 'test.name': name } };
      if (node.artifactType) manifest.artifactType = node.artifactType;
    } else {
      const base = node.base !== undefined ? await resolve(node.base) : undefined;
      mediaType = node.docker ? DOCKER_MANIFEST : OCI_MANIFEST;
      const layerType = node.docker ? DOCKER_LAYER : OCI_LAYER;
      let config: Descriptor;
      let layers: Descriptor[];
      if (node.artifactType) {
        const empty = await writeBlob(dir, '{}');
        config = { mediaType: OCI_EMPTY, ...empty };
        const payload = await writeBlob(dir, `${node.artifactType} payload of ${name}`);
        layers = [{ mediaType: node.artifactType, ...payload }];
      } else {
        layers = [];
        for (const content of node.layers ?? []) {
          layers.push({ mediaType: layerType, ...(await writeBlob(dir, content)) });
        }
        const configJson = {
          ...(node.created ? { created: node.created } : {}),
          architecture: node.platform?.architecture ?? 'amd64',
          os: node.platform?.os ?? 'linux',
          config: { Labels: { salt: node.salt ?? name } },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        };
        const written = await writeBlob(dir, JSON.stringify(configJson));
        config = { mediaType: node.docker ? DOCKER_CONFIG : OCI_CONFIG, ...written };
      }
      files.push(config.digest, ...layers.map((l) => l.digest));
      manifest = { schemaVersion: 2, mediaType, config, layers };
      if (node.artifactType) manifest.artifactType = node.artifactType;
      if (base && !node.baseOnDescriptor) manifest.annotations = { [BASE_DIGEST]: base.digest };
    }
    if (subject)
      manifest.subject = {
        mediaType: subject.mediaType,
        digest: subject.digest,
        size: subject.size,
      };
    const written = await writeBlob(dir, JSON.stringify(manifest, null, 2));
    const d: Descriptor = { mediaType, ...written };
    if (node.artifactType) d.artifactType = node.artifactType;
    desc[name] = d;
    own[name] = [d.digest, ...files];
    busy.delete(name);
    return d;
  };

  for (const name of Object.keys(spec.images)) await resolve(name);
  const entries: Descriptor[] = [];
  for (const [tag, name] of Object.entries(spec.tags ?? {})) {
    entries.push(entryFor(spec, desc, name, { [REF_NAME]: tag }));
  }
  for (const name of spec.untagged ?? []) entries.push(entryFor(spec, desc, name, {}));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }),
  );
  return { dir, desc, own };
}

function entryFor(
  spec: LayoutSpec,
  desc: Record<string, Descriptor>,
  name: string,
  annotations: Record<string, string>,
): Descriptor {
  const d = desc[name];
  if (!d) throw new Error(`layout spec: unknown image ${JSON.stringify(name)}`);
  const node = spec.images[name] as ImageSpec;
  const all = { ...annotations };
  if (node.baseOnDescriptor && node.base) all[BASE_DIGEST] = (desc[node.base] as Descriptor).digest;
  return Object.keys(all).length > 0 ? { ...d, annotations: all } : { ...d };
}

export async function readIndexJson(dir: string): Promise<{ manifests: Descriptor[] }> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
}

export async function writeIndexJson(dir: string, index: unknown): Promise<void> {
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

/** The ref names of index.json, sorted. */
export async function refNames(dir: string): Promise<string[]> {
  const index = await readIndexJson(dir);
  return index.manifests
    .map((m) => m.annotations?.[REF_NAME])
    .filter((r): r is string => r !== undefined)
    .sort();
}

/** Every blob digest on disk, sorted. */
export async function listBlobs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const alg of await readdir(join(dir, 'blobs'))) {
    for (const hex of await readdir(join(dir, 'blobs', alg))) out.push(`${alg}:${hex}`);
  }
  return out.sort();
}

/** `relative path → sha256 of its bytes` for every file under `dir`: equal snapshots, equal trees. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else out[path] = sha256(await readFile(join(dir, path)));
    }
  };
  await walk('');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * What `umoci gc` keeps, computed from the files alone: every blob reachable from index.json (or
 * from `from`) through index `manifests` and manifest `config`/`layers` — not `subject`, which
 * umoci 0.4 does not follow either. Throws on a missing blob or a digest mismatch, so it also
 * proves the reachable content is complete.
 */
export async function reachableBlobs(dir: string, from?: string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const roots = from ?? (await readIndexJson(dir)).manifests.map((m) => m.digest);
  const stack = [...roots];
  while (stack.length > 0) {
    const digest = stack.pop() as string;
    if (seen.has(digest)) continue;
    const bytes = await readFile(blobPath(dir, digest));
    if (sha256(bytes) !== digest) throw new Error(`${digest} does not match its content`);
    seen.add(digest);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      continue; // a layer
    }
    // Only manifests and indexes name other blobs; a config's own "config" field is no descriptor.
    if (typeof json !== 'object' || json === null || json.schemaVersion !== 2) continue;
    for (const m of (json.manifests as Descriptor[] | undefined) ?? []) stack.push(m.digest);
    if (json.config) stack.push((json.config as Descriptor).digest);
    for (const l of (json.layers as Descriptor[] | undefined) ?? []) stack.push(l.digest);
  }
  return seen;
}
