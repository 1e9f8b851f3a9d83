/**
 * A small pusher over plain HTTP (fetch) for test fixtures: blobs, OCI and Docker manifests,
 * indexes, referrers with `subject`, referrers fallback index tags, cosign-style tags and base-image
 * annotations. Everything is deterministic: the same call pushes the same digests.
 */
import { createHash } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const EMPTY = 'application/vnd.oci.empty.v1+json';

const ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

/** Where to push: the registry URL and, for auth tests, headers per repository. */
export interface PushTarget {
  url: string;
  headers?: (repo: string) => Promise<Record<string, string>> | Record<string, string>;
}

/** A descriptor of something pushed. */
export interface Pushed {
  digest: string;
  size: number;
  mediaType: string;
}

/** A pushed image manifest with what it references. */
export interface PushedImage extends Pushed {
  repo: string;
  config: Pushed;
  layers: Pushed[];
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function headersFor(target: PushTarget, repo: string): Promise<Record<string, string>> {
  return target.headers ? await target.headers(repo) : {};
}

async function expectStatus(response: Response, ok: number[], what: string): Promise<void> {
  if (ok.includes(response.status)) return;
  const body = await response.text();
  throw new Error(`${what}: HTTP ${response.status} ${body.slice(0, 500)}`);
}

/** Uploads a blob (POST, then PUT to Location with `digest=`), unless it is already there. */
export async function pushBlob(
  target: PushTarget,
  repo: string,
  content: Uint8Array | string,
  mediaType = OCI_LAYER,
): Promise<Pushed> {
  const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  const digest = sha256(bytes);
  const headers = await headersFor(target, repo);
  const head = await fetch(`${target.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers });
  if (head.status === 200) return { digest, size: bytes.length, mediaType };
  const start = await fetch(`${target.url}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
    headers,
  });
  await expectStatus(start, [202], `start upload in ${repo}`);
  await start.arrayBuffer();
  const location = new URL(start.headers.get('location') ?? '', target.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(put, [201], `upload ${digest} to ${repo}`);
  await put.arrayBuffer();
  return { digest, size: bytes.length, mediaType };
}

/** PUTs a manifest (object or exact bytes) to a tag or digest; returns its descriptor. */
export async function pushManifest(
  target: PushTarget,
  repo: string,
  ref: string | undefined,
  manifest: object | Uint8Array,
  mediaType: string,
): Promise<Pushed> {
  const bytes =
    manifest instanceof Uint8Array
      ? manifest
      : new TextEncoder().encode(JSON.stringify(manifest, null, 2));
  const digest = sha256(bytes);
  const response = await fetch(`${target.url}/v2/${repo}/manifests/${ref ?? digest}`, {
    method: 'PUT',
    headers: { ...(await headersFor(target, repo)), 'content-type': mediaType },
    body: bytes,
  });
  await expectStatus(response, [201], `push manifest ${repo}:${ref ?? digest}`);
  await response.arrayBuffer();
  const answered = response.headers.get('docker-content-digest');
  if (answered && answered !== digest)
    throw new Error(`registry says ${answered}, we hashed ${digest}`);
  return { digest, size: bytes.length, mediaType };
}

/** Fetches a manifest's exact bytes (with the full Accept list). */
export async function getManifest(
  target: PushTarget,
  repo: string,
  ref: string,
): Promise<{ bytes: Uint8Array; mediaType: string; digest: string } | undefined> {
  const response = await fetch(`${target.url}/v2/${repo}/manifests/${ref}`, {
    headers: { ...(await headersFor(target, repo)), accept: ACCEPT },
  });
  if (response.status === 404) {
    await response.arrayBuffer();
    return undefined;
  }
  await expectStatus(response, [200], `get manifest ${repo}:${ref}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { bytes, mediaType: response.headers.get('content-type') ?? '', digest: sha256(bytes) };
}

/** Points `tag` at an existing manifest (re-PUTs its exact bytes under the tag). */
export async function tagManifest(
  target: PushTarget,
  repo: string,
  tag: string,
  digest: string,
): Promise<void> {
  const found = await getManifest(target, repo, digest);
  if (!found) throw new Error(`tagManifest: ${repo}@${digest} not found`);
  await pushManifest(target, repo, tag, found.bytes, found.mediaType);
}

export interface ImageSpec {
  tag?: string;
  /** Layer contents (each becomes one blob). Default: one layer derived from `name`. */
  layers?: string[];
  /** A base image: its layers come first, and the base-image annotations name it. */
  parent?: PushedImage;
  /** The `org.opencontainers.image.base.name` annotation, e.g. `127.0.0.1:5000/base:1`. */
  parentName?: string;
  /** Image config `created`. */
  created?: string;
  /** Push a Docker v2 schema 2 manifest instead of OCI. */
  docker?: boolean;
  architecture?: string;
  annotations?: Record<string, string>;
  /** Something to make the digest unique when everything else is equal. */
  salt?: string;
}

/** Pushes an image: layers, config, manifest (tagged when `tag` is given). */
export async function pushImage(
  target: PushTarget,
  repo: string,
  spec: ImageSpec = {},
): Promise<PushedImage> {
  const own = spec.layers ?? [`layer of ${repo}:${spec.tag ?? ''}:${spec.salt ?? ''}`];
  const layerType = spec.docker ? DOCKER_LAYER : OCI_LAYER;
  const layers: Pushed[] = [...(spec.parent?.layers ?? [])];
  for (const content of own) layers.push(await pushBlob(target, repo, content, layerType));
  if (spec.parent && spec.parent.repo !== repo) {
    for (const layer of spec.parent.layers)
      await mountBlob(target, repo, spec.parent.repo, layer.digest);
  }
  const config = {
    architecture: spec.architecture ?? 'amd64',
    os: 'linux',
    ...(spec.created ? { created: spec.created } : {}),
    config: { Labels: { salt: spec.salt ?? '' } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  };
  const configPushed = await pushBlob(
    target,
    repo,
    JSON.stringify(config),
    spec.docker ? DOCKER_CONFIG : OCI_CONFIG,
  );
  const annotations: Record<string, string> = { ...spec.annotations };
  if (spec.parent) {
    annotations['org.opencontainers.image.base.digest'] = spec.parent.digest;
    if (spec.parentName) annotations['org.opencontainers.image.base.name'] = spec.parentName;
  }
  const mediaType = spec.docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: configPushed.mediaType,
      digest: configPushed.digest,
      size: configPushed.size,
    },
    layers: layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.size })),
  };
  if (Object.keys(annotations).length > 0) manifest.annotations = annotations;
  const pushed = await pushManifest(target, repo, spec.tag, manifest, mediaType);
  return { ...pushed, repo, config: configPushed, layers };
}

/** Makes a blob of repository `from` available in `repo` (cross-repository mount). */
export async function mountBlob(
  target: PushTarget,
  repo: string,
  from: string,
  digest: string,
): Promise<void> {
  const query = new URLSearchParams({ mount: digest, from });
  const response = await fetch(`${target.url}/v2/${repo}/blobs/uploads/?${query}`, {
    method: 'POST',
    headers: await headersFor(target, repo),
  });
  await expectStatus(response, [201], `mount ${digest} from ${from} into ${repo}`);
  await response.arrayBuffer();
}

/** Pushes an index (OCI) or manifest list (Docker) over already pushed manifests. */
export async function pushIndex(
  target: PushTarget,
  repo: string,
  spec: {
    tag?: string;
    manifests: Array<Pushed & { architecture?: string }>;
    docker?: boolean;
    annotations?: Record<string, string>;
    subject?: Pushed;
    artifactType?: string;
  },
): Promise<Pushed> {
  const mediaType = spec.docker ? DOCKER_LIST : OCI_INDEX;
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    manifests: spec.manifests.map((m, i) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      platform: { os: 'linux', architecture: m.architecture ?? ['amd64', 'arm64', 's390x'][i % 3] },
    })),
  };
  if (spec.artifactType) manifest.artifactType = spec.artifactType;
  if (spec.subject) manifest.subject = descriptor(spec.subject);
  if (spec.annotations) manifest.annotations = spec.annotations;
  return pushManifest(target, repo, spec.tag, manifest, mediaType);
}

function descriptor(d: Pushed): { mediaType: string; digest: string; size: number } {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * Pushes an artifact manifest (signature, SBOM…) whose `subject` is `subject`, and records it in
 * the referrers fallback index tag `sha256-<hex>` (as OCI 1.1 clients do when the registry has no
 * referrers API). Returns the artifact.
 */
export async function pushReferrer(
  target: PushTarget,
  repo: string,
  subject: Pushed,
  spec: { artifactType: string; content: string; fallback?: boolean; tag?: string },
): Promise<Pushed> {
  const empty = await pushBlob(target, repo, '{}', EMPTY);
  const layer = await pushBlob(target, repo, spec.content, 'application/octet-stream');
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: spec.artifactType,
    config: descriptor(empty),
    layers: [{ ...descriptor(layer), mediaType: 'application/octet-stream' }],
    subject: descriptor(subject),
    annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  };
  const pushed = await pushManifest(target, repo, spec.tag, manifest, OCI_MANIFEST);
  if (spec.fallback ?? true) {
    const tag = fallbackTag(subject.digest);
    const existing = await getManifest(target, repo, tag);
    const list: Array<Record<string, unknown>> = existing
      ? (JSON.parse(new TextDecoder().decode(existing.bytes)).manifests ?? [])
      : [];
    list.push({ ...descriptor(pushed), artifactType: spec.artifactType });
    await pushManifest(
      target,
      repo,
      tag,
      { schemaVersion: 2, mediaType: OCI_INDEX, manifests: list },
      OCI_INDEX,
    );
  }
  return pushed;
}

/** `sha256-<hex>`: the referrers fallback tag of a digest. */
export function fallbackTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Pushes a cosign-style artifact tagged `sha256-<hex>.<kind>` for `subject` (no `subject` field). */
export async function pushCosign(
  target: PushTarget,
  repo: string,
  subject: Pushed,
  kind: 'sig' | 'att' | 'sbom',
): Promise<Pushed> {
  const config = await pushBlob(target, repo, `{"kind":"${kind}"}`, OCI_CONFIG);
  const payload = await pushBlob(target, repo, `${kind} payload for ${subject.digest}`);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(config),
    layers: [
      {
        ...descriptor(payload),
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      },
    ],
  };
  return pushManifest(
    target,
    repo,
    `${fallbackTag(subject.digest)}.${kind}`,
    manifest,
    OCI_MANIFEST,
  );
}

/** Lists a repository's tags (sorted), `[]` for none. */
export async function listTags(target: PushTarget, repo: string): Promise<string[]> {
  const response = await fetch(`${target.url}/v2/${repo}/tags/list`, {
    headers: await headersFor(target, repo),
  });
  if (response.status === 404) {
    await response.arrayBuffer();
    return [];
  }
  await expectStatus(response, [200], `list tags of ${repo}`);
  const body = (await response.json()) as { tags: string[] | null };
  return [...(body.tags ?? [])].sort();
}

/** The HTTP status of a manifest GET by digest or tag (200, 404…). */
export async function manifestStatus(
  target: PushTarget,
  repo: string,
  ref: string,
): Promise<number> {
  const response = await fetch(`${target.url}/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { ...(await headersFor(target, repo)), accept: ACCEPT },
  });
  await response.arrayBuffer();
  return response.status;
}
