import { randomUUID } from 'node:crypto';
import type { RegistryClient } from './client.js';
import { RegistryHttpError } from './errors/registry-http-error.js';
import { OCI_EMPTY, OCI_MANIFEST } from './media-types.js';
import { manifestRequest, placeholderConfigRequest } from './requests.js';

const EMPTY_JSON = new TextEncoder().encode('{}');
/** Digest of {@link EMPTY_JSON}: the placeholder's config (OCI's empty descriptor). */
export const EMPTY_JSON_DIGEST =
  'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
const PLACEHOLDER = 'dev.regprune.placeholder';
/** Placeholder pushes per untag before giving up on a registry that keeps leaving the tag. */
const PLACEHOLDER_ROUNDS = 3;

/**
 * Whether `bytes` are a placeholder regprune pushed to untag `tag` (one an interrupted run may
 * have left on the tag).
 */
export function isPlaceholderFor(bytes: Uint8Array, tag: string): boolean {
  try {
    const body = JSON.parse(new TextDecoder().decode(bytes)) as {
      annotations?: Record<string, unknown>;
    };
    const note = body.annotations?.[PLACEHOLDER];
    return typeof note === 'string' && note.startsWith(`untag ${tag} `);
  } catch {
    return false;
  }
}

/**
 * Finishes an untag an interrupted run left half done: when `digest` (what `tag` points at now) is
 * a placeholder regprune pushed to untag that tag, deletes it — and, should the registry drop the
 * placeholder but leave the tag (see {@link removeTag}), removes the tag too. `removed` is false
 * when the tag holds something else (someone else's now: left alone).
 */
export async function removeOwnPlaceholder(
  client: RegistryClient,
  repository: string,
  tag: string,
  digest: string,
  signal?: AbortSignal,
): Promise<{ removed: boolean; requests: string[] }> {
  const requests = [manifestRequest('GET', repository, digest)];
  const current = await client.getManifest(repository, digest, { signal });
  if (!current || !isPlaceholderFor(current.bytes, tag)) return { removed: false, requests };
  requests.push(manifestRequest('DELETE', repository, digest));
  if ((await client.deleteManifest(repository, digest, { signal })) !== 'deleted')
    requests.push(...(await removeTag(client, repository, tag, signal)).requests);
  return { removed: true, requests };
}

/** How a tag was removed, with the requests sent. */
export interface TagRemoval {
  /**
   * `tag-delete-unsafe`: the registry answered the tag DELETE by deleting the manifest behind the
   * tag (reported of zot); the manifest was pushed back at once (see {@link TagGuard}).
   */
  how: 'tag-delete' | 'tag-delete-unsafe' | 'placeholder' | 'already-gone';
  requests: string[];
  /** With `tag-delete-unsafe`: the tags (bare names) pushed back with the manifest. */
  restored?: string[];
}

/**
 * The manifest an untagged tag points at, which must survive the untag: the first tag DELETE on a
 * registry is checked against it, since a registry has been reported (zot) to answer
 * `DELETE /manifests/<tag>` with 202 by deleting the manifest and every tag on it.
 */
export interface TagGuard {
  digest: string;
  bytes: Uint8Array;
  mediaType: string;
  /** Tags (bare names) on that manifest that stay: pushed back with it if it went. */
  keep: readonly string[];
}

/** The first tag DELETE per client, while it runs: later untags wait to learn what it found. */
const probes = new WeakMap<RegistryClient, Promise<unknown>>();

/**
 * Removes one tag without touching the manifest it points at. Uses `DELETE manifests/<tag>` where
 * the registry supports it (learned once per client); otherwise pushes a tiny unique placeholder
 * manifest to the tag and deletes the placeholder by digest, as regclient does. The placeholder's
 * digest is unique, so deleting it can never drop another tag. When the registry drops the
 * placeholder but leaves the tag (see below), a new placeholder is pushed, up to 3 times.
 * @throws {RegistryHttpError} when the tag is still left after the last placeholder.
 */
export async function removeTag(
  client: RegistryClient,
  repository: string,
  tag: string,
  signal?: AbortSignal,
  guard?: TagGuard,
): Promise<TagRemoval> {
  const path = `/v2/${repository}/manifests`;
  const requests: string[] = [];
  for (let pending = probes.get(client); pending; pending = probes.get(client)) {
    await pending.catch(() => undefined);
  }
  if (client.tagDeleteSupported === undefined && guard) {
    const probe = firstTagDelete(client, repository, tag, guard, signal);
    probes.set(client, probe);
    try {
      const found = await probe;
      if (found) return found;
    } finally {
      probes.delete(client);
    }
  }
  if (client.tagDeleteSupported !== false) {
    requests.push(manifestRequest('DELETE', repository, tag));
    const result = await client.deleteManifest(repository, tag, { signal });
    if (result === 'deleted') {
      client.tagDeleteSupported = true;
      return { how: 'tag-delete', requests };
    }
    if (result === 'missing' && client.tagDeleteSupported === true)
      return { how: 'already-gone', requests };
    client.tagDeleteSupported = false;
  }
  await client.ensureBlob(repository, EMPTY_JSON, { signal });
  for (let round = 1; ; round++) {
    const bytes = placeholderFor(tag);
    requests.push(
      ...(round === 1 ? [placeholderConfigRequest(repository, EMPTY_JSON_DIGEST)] : []),
      manifestRequest('PUT', repository, tag, 'placeholder'),
    );
    const digest = await client.putManifest(repository, tag, bytes, OCI_MANIFEST, { signal });
    requests.push(manifestRequest('DELETE', repository, digest));
    const result = await client.deleteManifest(repository, digest, { signal });
    if (result === 'deleted') return { how: 'placeholder', requests };
    // Nobody else knows this digest, so "missing" means the registry unlinked the placeholder and
    // then failed before dropping the tag: distribution 2.8 answers 500 when its tag scan reads a
    // tag link another request is writing, and the client's retry finds the placeholder gone. The
    // tag is left listed, pointing at nothing; a new placeholder on it clears it.
    if (round === PLACEHOLDER_ROUNDS)
      throw new RegistryHttpError(
        404,
        'DELETE',
        `${client.url}${path}/${digest}`,
        'MANIFEST_UNKNOWN',
        `the registry dropped ${PLACEHOLDER_ROUNDS} placeholders pushed to untag ${repository}:${tag} but left the tag listed; run the apply again`,
      );
  }
}

/**
 * The first tag DELETE on a registry, checked: is the guarded manifest still there afterwards? If
 * not, the registry deletes manifests on tag DELETE: the manifest and its kept tags are pushed
 * back from the bytes in hand (its blobs are still there) and tag DELETE is never used again.
 * `undefined` when the registry does not delete tags (the caller goes on with a placeholder).
 */
async function firstTagDelete(
  client: RegistryClient,
  repository: string,
  tag: string,
  guard: TagGuard,
  signal: AbortSignal | undefined,
): Promise<TagRemoval | undefined> {
  const requests = [manifestRequest('DELETE', repository, tag)];
  const result = await client.deleteManifest(repository, tag, { signal });
  if (result !== 'deleted') {
    if (result === 'unsupported') client.tagDeleteSupported = false;
    return result === 'missing' ? { how: 'already-gone', requests } : undefined;
  }
  requests.push(
    manifestRequest(
      'HEAD',
      repository,
      guard.digest,
      'the first tag DELETE must leave the manifest',
    ),
  );
  if ((await client.resolve(repository, guard.digest, { signal })) !== undefined) {
    client.tagDeleteSupported = true;
    return { how: 'tag-delete', requests };
  }
  client.tagDeleteSupported = false;
  requests.push(manifestRequest('PUT', repository, guard.digest, 'pushed back'));
  await client.putManifest(repository, guard.digest, guard.bytes, guard.mediaType, { signal });
  for (const name of guard.keep) {
    requests.push(manifestRequest('PUT', repository, name, 'pushed back'));
    await client.putManifest(repository, name, guard.bytes, guard.mediaType, { signal });
  }
  return { how: 'tag-delete-unsafe', requests, restored: [...guard.keep] };
}

/** A unique placeholder manifest for untagging `tag` (the empty config, no layers). */
function placeholderFor(tag: string): Uint8Array {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: OCI_EMPTY,
      digest: EMPTY_JSON_DIGEST,
      size: 2,
    },
    layers: [],
    annotations: { [PLACEHOLDER]: `untag ${tag} ${randomUUID()}` },
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}
