// Over 400 lines: decide, rewrite index.json, re-check the boundary and remove blobs are one
// transaction over one scan; issue 14 moves the pure deciding half into the core.
import { unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import { blockedByRemainingPointers, recheckRoots } from '../core/attachments.js';
import { PlanMismatchError } from '../core/errors/plan-mismatch-error.js';
import { PlanRefusedError } from '../core/errors/plan-refused-error.js';
import type { ImageGraph } from '../core/image-graph.js';
import { assertPlanShape, checkPlanTarget } from '../core/plan-file.js';
import type { CleanupPlan, DeleteOperation } from '../core/plan-types.js';
import { recheckPlan } from '../core/recheck.js';
import {
  type ApplyOptions,
  type ApplyResult,
  NOT_ATTEMPTED_STOPPED,
  type OperationOutcome,
} from '../core/target.js';
import { syncDirectory, writeFileAtomic } from '../io/atomic-write.js';
import { type LayoutScan, scanLayout } from './load-graph.js';
import { layoutDigest, layoutImageId } from './naming.js';
import { type Descriptor, type IndexDocument, REF_NAME } from './oci-types.js';
import {
  type BlobEntry,
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

interface Decision {
  untag: OperationOutcome[];
  deletes: OperationOutcome[];
  index: IndexDocument;
  indexChanged: boolean;
  indexNote: string;
  /** Blob entries no remaining image needs, in listing order (sizeRemovals keeps the files). */
  candidates: RemovalCandidate[];
  skippedCount: number;
}

interface RemovalCandidate extends BlobEntry {
  /** Size the scan verified (the file of a deleted image's manifest, config or layer), if any. */
  knownSize: number | undefined;
  stray: boolean;
}

interface BlobToRemove {
  digest: string;
  size: number;
  /** Garbage before the plan: no image reachable from `index.json` needed it. */
  stray: boolean;
}

/**
 * Works out, from the plan and the layout as it is now, exactly what to change. No I/O.
 * @param entries every blob entry of the layout, so that garbage left before the plan goes too
 *   (what `umoci gc` would remove); nothing a remaining image needs is ever among the removals.
 */
function decide(scan: LayoutScan, plan: CleanupPlan, entries: readonly BlobEntry[]): Decision {
  const { graph } = scan;
  const planned = new Set<string>([
    ...plan.keep.map((k) => k.image),
    ...plan.delete.map((d) => d.image),
  ]);
  // Roots for the re-check: every current tag except those the plan removes together with the
  // image they still point at, and every image the plan never saw (an entry added since). Layouts
  // have no attachment tags: referrers are found through `subject` alone.
  const roots = recheckRoots(
    plan,
    graph.tags().map((tag) => [tag, graph.tagTarget(tag) as string] as const),
    () => false,
  );
  for (const image of graph.images()) {
    if (!planned.has(image)) roots.push([`new since plan: ${image}`, image]);
  }
  const recheck = recheckPlan(graph, plan, roots);
  const skipReason = new Map(recheck.skip.map((s) => [s.op.image, s.reason]));

  const deletes: OperationOutcome[] = [];
  const deleted = new Set<string>();
  for (const op of plan.delete) {
    const reason = skipReason.get(op.image);
    if (reason !== undefined)
      deletes.push({ action: 'delete', id: op.image, status: 'skipped', reason });
    else if (!graph.hasImage(op.image))
      deletes.push({ action: 'delete', id: op.image, status: 'skipped', reason: 'already gone' });
    else {
      deleted.add(op.image);
      deletes.push({ action: 'delete', id: op.image, status: 'planned', reason: deleteNote(op) });
    }
  }
  assertNothingRemainingNeeds(graph, deleted);

  const untag: OperationOutcome[] = [];
  const dropRefs = new Set<string>();
  for (const op of plan.untag) {
    const target = graph.tagTarget(op.tag);
    if (target === op.image) {
      dropRefs.add(op.tag);
      untag.push({
        action: 'untag',
        id: op.tag,
        status: 'planned',
        reason: `ref name removed from index.json; ${op.image} stays`,
      });
    } else {
      const reason =
        target === undefined
          ? 'already gone'
          : `changed since plan: ${op.tag} now points at ${target}`;
      untag.push({ action: 'untag', id: op.tag, status: 'skipped', reason });
    }
  }
  for (const op of plan.delete)
    if (deleted.has(op.image)) for (const tag of op.tags) dropRefs.add(tag);

  const { index, changed, note } = rewriteIndex(scan, deleted, dropRefs);

  // Blobs: the deleted manifests and their blobs, the plan's reclaimable blobs, and every other
  // blob file no remaining image needs, minus anything a remaining image needs (the last also
  // guards against a plan made from another graph).
  const needed = new Set<string>();
  for (const image of graph.images()) {
    if (deleted.has(image)) continue;
    needed.add(layoutDigest(image));
    for (const blob of graph.blobsOf(image)) needed.add(blob.id);
  }
  const freed = new Set<string>(plan.blobs.map((b) => b.id));
  // The scan checked each of these files' sizes (a manifest against its bytes, a config or layer
  // with a stat) moments ago: no need to stat them again. Sizes from the plan were not checked.
  const verifiedSize = new Map<string, number>();
  for (const image of deleted) {
    const manifestSize = graph.imageInfo(image)?.size;
    if (manifestSize !== undefined) verifiedSize.set(layoutDigest(image), manifestSize);
    freed.add(layoutDigest(image));
    for (const blob of graph.blobsOf(image)) {
      freed.add(blob.id);
      if (blob.size !== undefined) verifiedSize.set(blob.id, blob.size);
    }
  }
  const candidates: RemovalCandidate[] = entries
    .filter((e) => !needed.has(e.digest))
    .map((e) => ({
      ...e,
      knownSize: verifiedSize.get(e.digest),
      stray: !freed.has(e.digest),
    }));

  const skippedCount = [...untag, ...deletes].filter(
    (o) => o.status === 'skipped' && o.reason !== 'already gone',
  ).length;
  return {
    untag,
    deletes,
    index,
    indexChanged: changed,
    indexNote: note,
    candidates,
    skippedCount,
  };
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

function deleteNote(op: DeleteOperation): string {
  return op.tags.length > 0 ? `with its tags ${op.tags.join(', ')}` : 'untagged';
}

/** Defensive: the re-check guarantees this; if it ever fails, touch nothing. */
function assertNothingRemainingNeeds(graph: ImageGraph, deleted: ReadonlySet<string>): void {
  const pointers = (image: string) =>
    (['parent', 'child', 'referrer'] as const).flatMap((kind) => graph.sourcesOf(image, kind));
  const blocked = blockedByRemainingPointers([...deleted], pointers, (p) => !deleted.has(p));
  for (const [image, needer] of blocked) {
    throw new PlanMismatchError(image, `${needer} stays and still needs it`);
  }
}

/**
 * The new `index.json`: entries of deleted images dropped, removed tags' ref names stripped (the
 * entry stays unless another entry already roots that image), and an untagged entry added for
 * every remaining image that no entry reaches through index children.
 */
function rewriteIndex(
  scan: LayoutScan,
  deleted: ReadonlySet<string>,
  dropRefs: ReadonlySet<string>,
): { index: IndexDocument; changed: boolean; note: string } {
  const { graph, index } = scan;
  const kept: Descriptor[] = [];
  const stripped: Descriptor[] = [];
  let removed = 0;
  for (const entry of index.manifests) {
    if (deleted.has(layoutImageId(entry.digest))) {
      removed++;
      continue;
    }
    const ref = entry.annotations?.[REF_NAME];
    if (ref !== undefined && dropRefs.has(ref)) {
      const { [REF_NAME]: _gone, ...rest } = entry.annotations as Record<string, string>;
      const copy: Descriptor = { ...entry };
      if (Object.keys(rest).length > 0) copy.annotations = rest;
      else delete copy.annotations;
      stripped.push(copy);
      kept.push(copy);
    } else kept.push(entry);
  }
  // A stripped entry is redundant when another entry still roots the same image: an unstripped
  // one, or an earlier stripped one.
  const strippedSet = new Set(stripped);
  const rootedElsewhere = new Set(kept.filter((e) => !strippedSet.has(e)).map((e) => e.digest));
  const first = new Map<string, Descriptor>();
  for (const e of kept) if (!first.has(e.digest)) first.set(e.digest, e);
  const entries = kept.filter(
    (e) => !strippedSet.has(e) || (!rootedElsewhere.has(e.digest) && first.get(e.digest) === e),
  );

  const covered = new Set<string>();
  const cover = (id: string) => {
    const stack = [id];
    while (stack.length > 0) {
      const x = stack.pop() as string;
      if (covered.has(x)) continue;
      covered.add(x);
      stack.push(...graph.targetsOf(x, 'child'));
    }
  };
  for (const e of entries) cover(layoutImageId(e.digest));
  let added = 0;
  for (const image of graph.images()) {
    if (deleted.has(image) || covered.has(image)) continue;
    // The scan took each image's media type and size from the descriptor that first named it.
    const info = graph.imageInfo(image);
    entries.push({
      mediaType: info?.mediaType || 'application/vnd.oci.image.manifest.v1+json',
      digest: layoutDigest(image),
      size: info?.size ?? 0,
    });
    added++;
    cover(image);
  }
  const next: IndexDocument = { ...index, manifests: entries };
  const changed = JSON.stringify(next) !== JSON.stringify(index);
  const note = `${removed} entr${removed === 1 ? 'y' : 'ies'} removed, ${stripped.length} ref name${stripped.length === 1 ? '' : 's'} removed, ${added} untagged entr${added === 1 ? 'y' : 'ies'} added for images that stay`;
  return { index: next, changed, note };
}

/**
 * A plan made for another target (a registry, another layout) must not be applied here: its image
 * ids are not layout ids, or an image it keeps is not in this layout.
 */
function checkPlanFitsLayout(scan: LayoutScan, plan: CleanupPlan): void {
  const ids = [
    ...plan.keep.map((k) => k.image),
    ...plan.delete.map((d) => d.image),
    ...plan.untag.map((u) => u.image),
  ];
  for (const id of ids) {
    if (!isLayoutImageId(id)) {
      throw new PlanMismatchError(
        id,
        `is not an image id of an OCI layout ("@<digest>"), so the plan was made for another target than ${scan.dir}`,
      );
    }
  }
  for (const kept of plan.keep) {
    if (!scan.graph.hasImage(kept.image)) {
      throw new PlanMismatchError(
        kept.image,
        `the plan keeps it, but no entry of ${scan.dir}/index.json reaches it, so the plan was made from another layout or the layout changed since`,
      );
    }
  }
}

function isLayoutImageId(id: string): boolean {
  if (!id.startsWith('@')) return false;
  try {
    blobFile(id.slice(1));
    return true;
  } catch {
    return false;
  }
}

