import { repositoryScope } from '../auth/challenge.js';
import { digestOf } from '../digest.js';
import { DigestMismatchError } from '../errors/digest-mismatch-error.js';
import { ManifestTooLargeError } from '../errors/manifest-too-large-error.js';
import { MANIFEST_ACCEPT, MANIFEST_LIMIT } from '../media-types.js';
import { checkDigest, checkRepository, checkTag } from '../reference.js';
import { ERROR_LIMIT, readLimited } from '../transport/limits.js';
import type { EndpointContext } from './context.js';

/**
 * What a tag points at, in one GET: `{ digest, present: true }` when its manifest answers;
 * `{ digest, present: false }` when it answers 404 but the registry names the digest the tag
 * still points at (distribution names the missing revision in the `MANIFEST_UNKNOWN` error's
 * `detail.Revision`: a tag left listed after its manifest was unlinked answers so);
 * `undefined` when the tag is unknown or the registry names no digest.
 */
export async function tagTarget(
  context: EndpointContext,
  repository: string,
  tag: string,
  options: { signal?: AbortSignal },
): Promise<{ digest: string; present: boolean } | undefined> {
  checkRepository(repository, 'tagTarget');
  checkTag(tag, `tagTarget(${repository})`);
  const target = `v2/${repository}/manifests/${tag}`;
  const scope = repositoryScope(repository, 'pull');
  return context.limit(async () => {
    const { response, bytes } = await context.call({
      method: 'GET',
      target,
      scope,
      headers: { accept: MANIFEST_ACCEPT },
      read: MANIFEST_LIMIT,
      ...options,
    });
    if (response.status !== 404) {
      await context.expect(response, [200], 'GET', target, scope);
      if (!bytes) throw new ManifestTooLargeError(repository, tag, MANIFEST_LIMIT);
      const announced = response.headers.get('docker-content-digest') ?? undefined;
      const digest = digestOf(bytes, announced);
      if (announced && digest !== announced)
        throw new DigestMismatchError(repository, tag, announced, digest);
      return { digest, present: true };
    }
    try {
      const body404 = await readLimited(response, ERROR_LIMIT);
      if (!body404) return undefined;
      const body = JSON.parse(new TextDecoder().decode(body404)) as {
        errors?: Array<{ code?: unknown; detail?: { Revision?: unknown } }>;
      };
      const error = body.errors?.[0];
      const revision = error?.detail?.Revision;
      if (error?.code !== 'MANIFEST_UNKNOWN' || typeof revision !== 'string') return undefined;
      return { digest: checkDigest(revision, `GET ${target} (404 detail)`), present: false };
    } catch {
      return undefined;
    }
  });
}
