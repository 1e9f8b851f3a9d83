/**
 * Tags a digest DELETE left behind: distribution 2.8 unlinks a manifest first and drops the tags
 * on it afterwards. When its tag scan fails in between (a tag link being written at that moment:
 * 500 UNKNOWN), the retried DELETE answers 404 and the tags stay listed, pointing at nothing.
 */
import type { RegistryClient } from './client.js';
import { manifestRequest } from './requests.js';
import { removeOwnPlaceholder, removeTag } from './untag.js';

/** What {@link removeDanglingTags} found and did for one deleted image. */
export interface DanglingTagCleanup {
  /** Bare tags that were listed but answered 404 (or held our own placeholder), now removed. */
  removed: string[];
  /** Bare tags that point at another manifest now (pushed again since): left alone. */
  leftAlone: Array<{ tag: string; digest: string }>;
  requests: string[];
}

/**
 * Removes those of `tags` (bare names, the tags that went with a deleted manifest) that
 * `listed` still holds but that point at nothing. A tag that resolves to a manifest is someone
 * else's now and is left alone, except an untag placeholder regprune pushed to that very tag (an
 * interrupted earlier removal): that is finished by deleting the placeholder. Tags are handled
 * one after another: concurrent placeholder pushes in one repository are what makes the registry
 * fail this way in the first place.
 * @param listed the repository's tag list, read after the DELETE.
 * @throws {RegistryHttpError} when a tag cannot be removed.
 */
export async function removeDanglingTags(
  client: RegistryClient,
  repository: string,
  tags: readonly string[],
  listed: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<DanglingTagCleanup> {
  const result: DanglingTagCleanup = { removed: [], leftAlone: [], requests: [] };
  for (const tag of tags) {
    if (!listed.has(tag)) continue;
    result.requests.push(manifestRequest('HEAD', repository, tag));
    const now = await client.resolve(repository, tag, { signal });
    if (now === undefined) {
      result.requests.push(...(await removeTag(client, repository, tag, signal)).requests);
      result.removed.push(tag);
      continue;
    }
    const cleared = await removeOwnPlaceholder(client, repository, tag, now, signal);
    result.requests.push(...cleared.requests);
    if (cleared.removed) result.removed.push(tag);
    else result.leftAlone.push({ tag, digest: now });
  }
  return result;
}
