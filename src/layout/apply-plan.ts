// The I/O half of applying a plan to a layout; what to change is decided by plan-changes.ts (pure).
import { unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import { PlanRefusedError } from '../core/errors/plan-refused-error.js';
import { assertPlanShape, checkPlanTarget } from '../core/plan-file.js';
import type { CleanupPlan } from '../core/plan-types.js';
import {
  type ApplyOptions,
  type ApplyResult,
  NOT_ATTEMPTED_STOPPED,
  type OperationOutcome,
} from '../core/target.js';
import { syncDirectory, writeFileAtomic } from '../io/atomic-write.js';
import { scanLayout } from './load-graph.js';
import { checkPlanFitsLayout, decide, type RemovalCandidate } from './plan-changes.js';
import {
  blobFile,
  isRealFolderOf,
  LAYOUT_IO_CONCURRENCY,
  listBlobEntries,
  statBlob,
} from './read-layout.js';

/**
 * Carries out a cleanup plan on an OCI image layout.
 *
 * 1. Re-reads the layout and re-checks the plan: a deletion that a current tag (new or moved since
 *    the plan) or an image the plan never saw now reaches is skipped with the reason
 *    `changed since plan: …`, and so is whatever that image keeps.
 * 2. Rewrites `index.json` once, atomically (temporary file, fsync, rename, fsync of the
 *    directory): entries of deleted images go; untagged tags lose their
 *    `org.opencontainers.image.ref.name` annotation but keep their entry, so an image that stays
 *    without a tag is still a root for the layout's own GC; any other remaining image that no
 *    entry reaches gets an untagged entry for the same reason.
 * 3. Removes every blob file that no remaining image needs: the manifests, configs and layers of
 *    deleted images, and any garbage left before the plan (what `umoci gc` would remove), so no
 *    separate garbage collection is needed. A blob a remaining image needs is never removed.
 *    File operations run 16 at a time; a blob file whose size step 1 just checked is not stat-ed
 *    again. Outcomes are listed in digest order; `onProgress` sees removals as they finish.
 *
 * The layout boundary: files are written and removed only inside the layout's real directory
 * (the path with every symbolic link resolved), and removed only from `blobs/sha256` and
 * `blobs/sha512` when they and `blobs` are real folders of the layout. A `blobs` or
 * `blobs/<alg>` folder that is a symbolic link (a blob store shared by several layouts, say) and
 * a folder of any other algorithm lose no file; the plan's warnings and the result's notes name
 * them (`LAYOUT_FOLDER_NOT_COLLECTED`, `UNKNOWN_BLOB_ALGORITHM`), while `index.json` is still
 * rewritten. Right before each removal the folder is checked again: one replaced by a link since
 * the layout was read makes that removal fail, naming the folder. A blob file that is itself a
 * symbolic link loses the link, never its target. `index.json` is replaced by rename, so a link
 * there is replaced too and its target is never written.
 *
 * Interrupted at any point, the layout stays valid: `index.json` changes before any blob goes.
 * Run it while nothing else writes to the layout (as for `umoci gc`): a concurrent writer's new
 * blobs or `index.json` entry could be lost.
 *
 * With `dryRun` nothing is written or removed; the result lists what would be done.
 *
 * @throws {PlanRefusedError} when the plan is marked refused (nothing is touched).
 * @throws {InvalidPlanError} when `plan` is not a plan.
 * @throws {PlanMismatchError} when the plan was made for another target: image ids that are not
 *   layout ids (`@<digest>`), or a kept image that is not in this layout (nothing is touched).
 * @throws {InvalidLayoutError} for a malformed layout (nothing is touched).
 * @example
 * ```ts
 * const graph = await loadLayoutGraph('./oci');
 * const plan = planCleanup(graph, ['latest', 'v2']);
 * const preview = await applyLayoutPlan('./oci', plan, { dryRun: true });
 * ```
 */
export async function applyLayoutPlan(
  dir: string,
  plan: CleanupPlan,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  assertPlanShape(plan);
  if (plan.refused) throw new PlanRefusedError(plan.refused.reason);
  checkPlanTarget(plan, `oci:${resolve(dir)}`);
  const dryRun = options.dryRun ?? false;
  const scan = await scanLayout(dir, { dates: false, signal: options.signal });
  checkPlanFitsLayout(scan, plan);
  const io = pLimit(LAYOUT_IO_CONCURRENCY);
  // Every write and removal goes through the real directory, and only into the folders the scan
  // found to be the layout's own (see inspectBlobFolders).
  const { root, collected, leftAlone } = scan.folders;
  const work = decide(scan, plan, await listBlobEntries(root, collected));
  const blobs = await sizeRemovals(root, work.candidates, io);

  const outcomes: OperationOutcome[] = [...work.untag, ...work.deletes];
  const indexText = `${JSON.stringify(work.index)}\n`;
  const rewrite: OperationOutcome | undefined = work.indexChanged
    ? { action: 'rewrite', id: 'index.json', status: 'planned', reason: work.indexNote }
    : undefined;
  if (rewrite) outcomes.push(rewrite);
  const blobOutcomes: OperationOutcome[] = blobs.map((b) => ({
    action: 'delete-blob',
    id: b.digest,
    status: 'planned',
    reason: `${blobFile(b.digest)} (${b.size} bytes${b.stray ? '; no image of index.json needed it before this plan either' : ''})`,
  }));
  outcomes.push(...blobOutcomes);

  let done = 0;
  const report = (outcome: OperationOutcome) => {
    done++;
    options.onProgress?.({ done, total: outcomes.length, outcome });
  };
  // Skips were decided up front, before anything changes.
  for (const outcome of outcomes) if (outcome.status === 'skipped') report(outcome);
  let reclaimed = 0;
  let stopped = false;
  if (dryRun) {
    for (const outcome of outcomes) if (outcome.status === 'planned') report(outcome);
    reclaimed = blobs.reduce((sum, b) => sum + b.size, 0);
  } else {
    options.signal?.throwIfAborted();
    if (options.stop?.aborted) {
      // Nothing changed yet: every planned operation is reported as not started.
      for (const outcome of outcomes) {
        if (outcome.status !== 'planned') continue;
        outcome.status = 'skipped';
        outcome.reason = NOT_ATTEMPTED_STOPPED;
        report(outcome);
      }
      stopped = true;
    } else if (rewrite) await writeFileAtomic(join(root, 'index.json'), indexText);
    for (const outcome of outcomes) {
      if (outcome.action === 'delete-blob' || outcome.status !== 'planned') continue;
      outcome.status = 'done';
      report(outcome);
    }
    // Removals run a few at a time; each waits for nothing but its own unlink. Once aborted (or
    // once a progress callback throws), no further removal starts; those in flight finish first.
    let stop: { error: unknown } | undefined;
    await Promise.all(
      blobOutcomes.map((outcome, i) =>
        io(async () => {
          if (stop || options.signal?.aborted) return;
          if (options.stop?.aborted) {
            if (outcome.status !== 'planned') return;
            stopped = true;
            outcome.status = 'skipped';
            outcome.reason = NOT_ATTEMPTED_STOPPED;
            report(outcome);
            return;
          }
          const blob = blobs[i] as BlobToRemove;
          const file = blobFile(blob.digest);
          const folder = file.slice(0, file.lastIndexOf('/'));
          try {
            // Checked right before the removal: the folder may have been swapped for a symbolic
            // link since the scan, and then the path would lead outside the layout.
            if (!(await isRealFolderOf(root, folder))) {
              outcome.status = 'failed';
              outcome.reason = `not removed: ${folder} is no longer a folder of the layout (it was replaced by a symbolic link or moved since the layout was read); plan again`;
            } else {
              await unlink(join(root, file));
              outcome.status = 'done';
              reclaimed += blob.size;
            }
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
              outcome.status = 'skipped';
              outcome.reason = 'already gone';
            } else {
              outcome.status = 'failed';
              outcome.reason = `cannot remove ${file}: ${(error as Error).message}`;
            }
          }
          try {
            report(outcome);
          } catch (error) {
            stop ??= { error };
          }
        }),
      ),
    );
    if (stop) throw stop.error;
    options.signal?.throwIfAborted();
    // Make the removals durable; a failed directory sync loses nothing but durability.
    const algorithms = new Set(blobs.map((b) => blobFile(b.digest).split('/')[1] as string));
    for (const alg of algorithms) await syncDirectory(join(root, 'blobs', alg));
  }

  const totals = { done: 0, skipped: 0, failed: 0, planned: 0 };
  for (const o of outcomes) totals[o.status]++;
  const bytes = reclaimed;
  const removed = dryRun
    ? blobOutcomes.length
    : blobOutcomes.filter((o) => o.status === 'done').length;
  const notes = [
    `${dryRun ? 'would remove' : 'removed'} ${removed} blob${removed === 1 ? '' : 's'} (${bytes} bytes) from ${dir}/blobs; an OCI layout needs no separate garbage collection`,
  ];
  for (const warning of leftAlone) notes.push(warning.message);
  if (work.skippedCount > 0) {
    notes.push(
      `${work.skippedCount} planned operation${work.skippedCount === 1 ? ' was' : 's were'} skipped because the layout changed since the plan; plan again to review them`,
    );
  }
  if (stopped)
    notes.push(
      'stopped before every operation was done: apply the same plan again (blobs left behind are removed as strays)',
    );
  return {
    dryRun,
    outcomes,
    totals,
    reclaimableBytes: bytes,
    notes,
    ...(stopped ? { stopped } : {}),
  };
}

interface BlobToRemove {
  digest: string;
  size: number;
  /** Garbage before the plan: no image reachable from `index.json` needed it. */
  stray: boolean;
}

/**
 * The candidates that are files, with their sizes. A regular file the scan already measured needs
 * no stat; the rest (garbage from before the plan, symbolic links) are stat-ed a few at a time. An
 * entry that is gone by now or is no file is left out, as it would be had it not been listed.
 */
async function sizeRemovals(
  dir: string,
  candidates: readonly RemovalCandidate[],
  io: LimitFunction,
): Promise<BlobToRemove[]> {
  const sized = await Promise.all(
    candidates.map(async (c): Promise<BlobToRemove | undefined> => {
      if (c.regular && c.knownSize !== undefined)
        return { digest: c.digest, size: c.knownSize, stray: c.stray };
      const result = await io(() => statBlob(dir, c.digest));
      if ('error' in result || !result.isFile) return undefined;
      return { digest: c.digest, size: result.size, stray: c.stray };
    }),
  );
  return sized.filter((b): b is BlobToRemove => b !== undefined);
}
