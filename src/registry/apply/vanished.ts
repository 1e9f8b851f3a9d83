/**
 * A tag that vanished between two tag lists while DELETEs were in flight: which DELETE can have
 * taken it, and whether it goes back onto an image or is reported (never guessed).
 */

import { goesWithImage } from '../../core/attachments.js';
import { imageId, tagId } from '../../core/naming.js';
import { manifestRequest } from '../requests.js';
import type { TagWatch } from '../tag-watch.js';
import { type Context, mustStop, noteFailure } from './context.js';
import { type BatchItem, pushBack } from './push-back.js';
import { recheckAdded } from './recheck.js';
import type { Vanished } from './tag-poller.js';

/** A DELETE sent: when, and (once it ended) when and how. */
export interface Sent {
  item: BatchItem;
  sentAt: number;
  /** When it was answered or failed. */
  endedAt?: number;
  /**
   * `deleted` (202), `missing` (404: gone before, or a retry after an attempt that went through),
   * `failed` (it may have gone through before the error), `untouched` (400 DIGEST_INVALID:
   * distribution refused before deleting anything).
   */
  end?: 'deleted' | 'missing' | 'failed' | 'untouched';
  /** Settles when it ended. */
  ended: Promise<void>;
}

/**
 * A name that vanished between two lists went with a DELETE in flight then, unless it was
 * planned to go with its image or someone else removed it. distribution untags before it answers,
 * so only DELETEs sent before the list that lacks it was answered, and not ended before the last
 * list that showed it was sent, can have taken it; a DELETE that answered 404 or failed may have
 * gone through before (a retry, an answer lost), so it counts too. It goes back onto the image its
 * last read named; a name whose read named an image not being deleted (moved since) or none goes
 * back onto the one DELETE that can have taken it, and with several it is reported on each, never
 * guessed.
 */
export async function settleVanished(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  v: Vanished,
  sent: readonly Sent[],
): Promise<void> {
  const overlapping = sent.filter(
    (s) => s.sentAt < v.before && (s.endedAt === undefined || s.endedAt > v.after),
  );
  await Promise.all(overlapping.map((s) => s.ended));
  const takers = overlapping.filter(
    (s) => s.end !== 'untouched' && s.endedAt !== undefined && s.endedAt > v.after,
  );
  if (takers.length === 0) return;
  const known = await v.read;
  const resolution = known?.resolution;
  const on = takers.find((s) => s.item.digest === resolution?.digest);
  if (on) {
    // One the plan lets go with that image: taken as planned.
    if (goesWithImage(ctx.plan, ctx.graph, tagId(repo, v.tag), imageId(repo, on.item.digest)))
      return;
    await pushBackAndRecheck(ctx, repo, watch, on.item, v.tag);
    return;
  }
  if (resolution && ctx.gone.has(imageId(repo, resolution.digest))) {
    // Last read on an image deleted before these DELETEs could take it: its owner removed it, or
    // moved it onto one of these. Told, not guessed.
    for (const s of takers)
      s.item.notes.push(
        `${tagId(repo, v.tag)} (last read on ${imageId(repo, resolution.digest)}, deleted earlier) vanished while this one was being deleted; if it had been moved onto this image, point it again`,
      );
    return;
  }
  if (takers.length > 1) {
    for (const s of takers)
      s.item.notes.push(
        `${tagId(repo, v.tag)} vanished with one of the ${takers.length} images deleted together with this one; which one it pointed at cannot be told: point it again`,
      );
    return;
  }
  const single = takers[0] as Sent;
  // A DELETE that did not answer 202 may not have untagged anything (distribution fails before
  // it untags): whether it took this name cannot be told.
  if (single.end !== 'deleted') {
    single.item.notes.push(
      `${tagId(repo, v.tag)} vanished while this one was being deleted, which ended without a clean 202; whether it went with it cannot be told: if it pointed at this image, point it again`,
    );
    return;
  }
  if (resolution?.present) {
    // Read on another image: moved onto this one since, or removed by its owner. Moved, unless
    // its old image is gone too.
    single.item.requests.push(
      manifestRequest('HEAD', repo, resolution.digest, `is what ${v.tag} pointed at still there?`),
    );
    let there: boolean;
    try {
      there =
        (await ctx.client.resolve(repo, resolution.digest, { signal: ctx.signal })) !== undefined;
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      single.item.lost.push(v.tag);
      single.item.notes.push((error as Error).message);
      return;
    }
    if (!there) return;
  }
  await pushBackAndRecheck(ctx, repo, watch, single.item, v.tag);
}

/** {@link pushBack}, then what the tag reaches stays too (a failed re-check is noted, not fatal). */
async function pushBackAndRecheck(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  item: BatchItem,
  tag: string,
): Promise<void> {
  if (!(await pushBack(ctx, repo, watch, item, tag))) return;
  try {
    await recheckAdded(ctx, repo, [[tag, item.digest]]);
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
    noteFailure(ctx, error);
    item.notes.push(
      `what ${tagId(repo, tag)} reaches could not be checked again: ${(error as Error).message}`,
    );
  }
}
