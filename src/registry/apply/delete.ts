/** One wave's deletes in one repository, batch by batch. */

import { digestOfImage } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { DeleteRefusedError } from '../errors/delete-refused-error.js';
import { manifestRequest } from '../requests.js';
import { TagWatch } from '../tag-watch.js';
import type { FetchedManifest } from '../types.js';
import { type Context, mustStop, noteFailure, report } from './context.js';
import { deleteWindow } from './delete-window.js';
import { rewriteFallbackIndexes } from './fallback-index.js';
import { pointerLeft, prefetch, recheckAdded } from './recheck.js';

/**
 * Deletes one wave's planned images of one repository: the repository's tags are read in full
 * once ({@link TagWatch}), then each DELETE leaves right after a tag list sent since its turn
 * came, a few in flight at once ({@link deleteWindow}): distribution's digest DELETE also removes
 * every tag on the digest, so a tag pushed after the last read would go with it, and one that
 * vanishes with a DELETE is pushed back at once.
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
  // The first read GETs every tag (rather than HEAD): that fetches most planned images' bytes too.
  const read = new Map<string, FetchedManifest>();
  if (!watch.read) {
    // Its list is as old as all its GETs took (seconds on a large repository): each DELETE
    // still waits for a list sent after its turn came.
    await recheckAdded(ctx, repo, await watch.readAll(read, ctx.signal), true);
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
  await deleteWindow(ctx, repo, watch, ops, unrewritten);
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
