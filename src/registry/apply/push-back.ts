/** Tags that went with a deleted image against the plan: pushed back, or reported. */

import { imageId, tagId } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { manifestRequest } from '../requests.js';
import type { TagWatch } from '../tag-watch.js';
import type { FetchedManifest } from '../types.js';
import { type Context, mustStop, noteFailure } from './context.js';
import { mediaTypeOf, type Settle } from './journal-intents.js';
import { recheckAdded } from './recheck.js';

/** One planned deletion on its way through {@link deleteBatch}. */
export interface BatchItem {
  op: DeleteOperation;
  digest: string;
  fetched: FetchedManifest;
  requests: string[];
  settle: Settle;
  /** The DELETE answered 404 (gone without a clean 202). */
  missing: boolean;
  /** When its DELETE was answered (`performance.now()`): it untagged nothing listed after. */
  answeredAt?: number;
  /** Bare tags pushed back after they went with this image's DELETE. */
  restored: string[];
  /** Bare tags that went with it and could not be pushed back. */
  lost: string[];
  /** Notes for the outcome. */
  notes: string[];
}

/** The start of the reason of a deletion that tags went with against the plan. */
export function restoredNotes(repo: string, item: BatchItem): string[] {
  const notes: string[] = [];
  if (item.restored.length > 0)
    notes.push(
      `restored after concurrent push: ${item.restored.map((t) => tagId(repo, t)).join(', ')} was pushed onto it while it was being deleted and went with it; pushed it back under that tag (${item.op.image} is there again; its tags in the plan stay removed)`,
    );
  if (item.lost.length > 0)
    notes.push(
      `${item.lost.map((t) => tagId(repo, t)).join(', ')} was pushed onto it while it was being deleted and went with it, and could not be pushed back: push it again`,
    );
  return notes;
}

/**
 * After a batch of DELETEs: tags of the last read, not planned to go, that are no longer listed.
 * distribution's digest DELETE removes every tag on the digest, so such a tag was moved onto a
 * deleted image after it was last resolved, and went with it. With one image in the batch it is
 * pushed straight back from the bytes in hand (blobs stay until the registry's GC); with several,
 * which one it pointed at cannot be told, and it is reported. A tag whose own image someone else
 * deleted meanwhile is not one of these (its image answers 404): left alone.
 */
export async function restoreVanished(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  deleted: BatchItem[],
  vanished: ReadonlyArray<readonly [string, string]>,
  vanishedNew: ReadonlyArray<readonly [string, BatchItem]> = [],
  candidatesOf: (tag: string) => BatchItem[] = () => deleted,
): Promise<void> {
  const digests = new Set(deleted.map((i) => i.digest));
  const back: Array<[string, string]> = [];
  for (const [tag, item] of vanishedNew) {
    // Pushed after the read before the DELETE, gone after it: it pointed at this deleted image.
    if (await pushBack(ctx, repo, watch, item, tag)) back.push([tag, item.digest]);
  }
  for (const [tag, last] of vanished) {
    // Went with its image, as planned (the re-check let it), or with one deleted earlier.
    if (digests.has(last) || ctx.gone.has(imageId(repo, last))) continue;
    // Listed after every DELETE of the batch was answered: someone else removed it.
    const candidates = candidatesOf(tag);
    if (candidates.length === 0) continue;
    if (candidates.length > 1) {
      for (const item of candidates)
        item.notes.push(
          `${tagId(repo, tag)} vanished with one of the ${candidates.length} images deleted together with this one; which one it pointed at cannot be told: point it again`,
        );
      continue;
    }
    const item = candidates[0] as BatchItem;
    item.requests.push(
      `HEAD /v2/${repo}/manifests/${last} (is what ${tag} pointed at still there?)`,
    );
    let there: boolean;
    try {
      there = (await ctx.client.resolve(repo, last, { signal: ctx.signal })) !== undefined;
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      item.lost.push(tag);
      item.notes.push((error as Error).message);
      continue;
    }
    if (there && (await pushBack(ctx, repo, watch, item, tag))) back.push([tag, item.digest]);
  }
  // What a pushed-back tag reaches stays too.
  if (back.length > 0) await recheckAdded(ctx, repo, back);
}

/**
 * Pushes `tag` back onto the deleted image `item` from the bytes in hand (its blobs stay until
 * the registry's GC); the image counts as there again. False when the push failed (recorded).
 */
export async function pushBack(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  item: BatchItem,
  tag: string,
): Promise<boolean> {
  try {
    item.requests.push(manifestRequest('PUT', repo, tag, 'pushed back'));
    await ctx.client.putManifest(
      repo,
      tag,
      item.fetched.bytes,
      mediaTypeOf(item.fetched, item.op.mediaType),
      { signal: ctx.signal },
    );
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
    noteFailure(ctx, error);
    item.lost.push(tag);
    item.notes.push((error as Error).message);
    return false;
  }
  watch.tags.set(tag, item.digest);
  item.restored.push(tag);
  ctx.gone.delete(item.op.image);
  return true;
}
