/** One wave's deletes in one repository, batch by batch. */

import { digestOfImage } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { DeleteRefusedError } from '../errors/delete-refused-error.js';
import { manifestRequest } from '../requests.js';
import { TagWatch } from '../tag-watch.js';
import type { FetchedManifest } from '../types.js';
import {
  type Context,
  deleteBatchSize,
  mustStop,
  notAttempted,
  noteFailure,
  report,
} from './context.js';
import { deleteBatch } from './delete-batch.js';
import { rewriteFallbackIndexes } from './fallback-index.js';
import { pointerLeft, prefetch, recheckAdded } from './recheck.js';

/**
 * Deletes one wave's planned images of one repository, one small batch at a time, each batch
 * right after a read of the repository's tags ({@link TagWatch}): distribution's digest DELETE
 * also removes every tag on the digest, so a tag pushed after the last read would go with it.
 * After each batch the tags are read again: a tag seen before, not planned to go, that vanished
 * with the batch was pushed onto a deleted image meanwhile, and is pushed back at once.
 */
export async function deleteInRepository(
  ctx: Context,
  repo: string,
  ops: DeleteOperation[],
): Promise<void> {
  if (ctx.tuning.recheck === false) return deleteUnchecked(ctx, repo, ops);
  let watch = ctx.watches.get(repo);
  if (!watch) {
    watch = new TagWatch(ctx.client, repo);
    ctx.watches.set(repo, watch);
  }
  // The last read was before other repositories' work of the previous wave: read again.
  watch.fresh = false;
  // The first read GETs every tag (rather than HEAD): that fetches most planned images' bytes too.
  const read = new Map<string, FetchedManifest>();
  if (watch.reads === 0) {
    const first = await watch.read(ctx.signal, read);
    await recheckAdded(ctx, repo, first.added, true);
    // Its list is as old as all its GETs took (seconds on a large repository): read again.
    watch.fresh = false;
  }
  prefetch(ctx, repo, ops, read);
  // Fallback indexes are rewritten for the whole wave first, as before any DELETE: their own
  // requests stay out of the time between a tag read and a DELETE.
  const unrewritten = await rewriteFallbackIndexes(
    ctx,
    repo,
    ops.filter((op) => !ctx.saved.has(op.image) && !pointerLeft(ctx, op)),
    watch,
  );
  const size = deleteBatchSize(ctx.client, ctx.tuning);
  const pending = [...ops];
  const attempts = new Map<string, number>();
  while (pending.length > 0) {
    ctx.signal?.throwIfAborted();
    if (ctx.stop?.aborted) {
      // Asked to stop: the DELETEs already sent finished; none is started after them.
      for (const op of pending) notAttempted(ctx, 'delete', op.image);
      return;
    }
    const batch: DeleteOperation[] = [];
    while (pending.length > 0 && batch.length < size) {
      const op = pending.shift() as DeleteOperation;
      const saved = ctx.saved.get(op.image);
      if (saved) {
        report(ctx, { action: 'delete', id: op.image, status: 'skipped', reason: saved });
        continue;
      }
      const pointer = pointerLeft(ctx, op);
      if (pointer) {
        report(ctx, {
          action: 'delete',
          id: op.image,
          status: 'skipped',
          reason: `${pointer} points at it and was not deleted`,
        });
        continue;
      }
      batch.push(op);
    }
    if (batch.length === 0) break;
    pending.unshift(...(await deleteBatch(ctx, repo, watch, batch, attempts, unrewritten)));
  }
}

/** Deletes without any re-check (benchmarks measure the re-check's cost against this). */
export async function deleteUnchecked(
  ctx: Context,
  repo: string,
  ops: DeleteOperation[],
): Promise<void> {
  await Promise.all(
    ops.map(async (op) => {
      const requests = [manifestRequest('DELETE', repo, digestOfImage(op.image))];
      try {
        const result = await ctx.client.deleteManifest(repo, digestOfImage(op.image), {
          signal: ctx.signal,
        });
        ctx.gone.add(op.image);
        report(ctx, {
          action: 'delete',
          id: op.image,
          status: 'done',
          reason: result === 'missing' ? 'already gone (404)' : undefined,
          requests,
        });
      } catch (error) {
        deleteFailed(ctx, op, error, requests);
      }
    }),
  );
}

/** A delete that failed: a run-ending error is rethrown, any other is its outcome. */
export function deleteFailed(
  ctx: Context,
  op: DeleteOperation,
  error: unknown,
  requests: string[],
): void {
  if (mustStop(error, ctx.signal)) throw error;
  // The platform refused this one image (GitHub's 5,000-downloads rule): skipped, not failed;
  // what it needs stays, since it is not gone.
  const refused = error instanceof DeleteRefusedError;
  if (!refused) noteFailure(ctx, error);
  report(ctx, {
    action: 'delete',
    id: op.image,
    status: refused ? 'skipped' : 'failed',
    reason: (error as Error).message,
    requests,
  });
}
