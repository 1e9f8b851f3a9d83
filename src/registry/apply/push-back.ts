/** Tags that went with a deleted image against the plan: pushed back, or reported. */

import { imageId, tagId } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { manifestRequest } from '../requests.js';
import type { TagWatch } from '../tag-watch.js';
import type { FetchedManifest } from '../types.js';
import { type Context, mustStop, noteFailure } from './context.js';
import { mediaTypeOf, type Settle } from './journal-intents.js';

/** One planned deletion on its way through the DELETE window. */
export interface BatchItem {
  op: DeleteOperation;
  digest: string;
  fetched: FetchedManifest;
  requests: string[];
  settle: Settle;
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
 * Pushes `tag` back onto the deleted image `item` from the bytes in hand (its blobs stay until
 * the registry's GC); the image counts as there again. A tag that resolves again by then was
 * pushed anew by someone: it is left as it is (never overwritten). False when it was not pushed
 * back (left as it is, or the push failed: recorded).
 */
export async function pushBack(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  item: BatchItem,
  tag: string,
): Promise<boolean> {
  try {
    item.requests.push(manifestRequest('HEAD', repo, tag, 'there again?'));
    const now = await ctx.client.resolve(repo, tag, { signal: ctx.signal });
    if (now !== undefined) {
      item.notes.push(
        `${tagId(repo, tag)} went with it but was pushed again meanwhile (it points at ${imageId(repo, now)}): left as it is`,
      );
      return false;
    }
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
