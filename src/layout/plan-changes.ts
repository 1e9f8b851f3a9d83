/**
 * The pure half of applying a plan to an OCI layout: from the plan and the layout as just scanned,
 * work out every change (which untags and deletions still hold after the re-check, the new
 * `index.json`, which blob files may go) without touching the disk. `apply-plan.ts` does the I/O.
 * Pure: no `node:*` imports, so it can be tested and reasoned about like the core.
 */
import { blockedByRemainingPointers, recheckRoots } from '../core/attachments.js';
import { PlanMismatchError } from '../core/errors/plan-mismatch-error.js';
import type { ImageGraph } from '../core/image-graph.js';
import { REF_NAME } from '../core/oci/annotations.js';
import { isOciDigest } from '../core/oci/digest.js';
import { OCI_MANIFEST } from '../core/oci/media-types.js';
import type { CleanupPlan, DeleteOperation } from '../core/plan-types.js';
import { recheckPlan } from '../core/recheck.js';
import type { OperationOutcome } from '../core/target.js';
import { layoutDigest, layoutImageId } from './naming.js';
import type { Descriptor, IndexDocument } from './oci-types.js';

/** A blob file name under `blobs/<alg>/` (what a directory listing found). */
export interface BlobEntry {
  digest: string;
  /**
   * `true` when the directory listing shows a regular file. `false` for a symbolic link (or an
   * entry whose type the listing does not tell): only a `stat` says whether it is a file.
   */
  regular: boolean;
}

/** What the planning needs of a scanned layout: its folder (for messages), graph and `index.json`. */
export interface LayoutState {
  dir: string;
  graph: ImageGraph;
  index: IndexDocument;
}

/** What applying the plan to the layout as it is now changes. */
export interface Decision {
  untag: OperationOutcome[];
  deletes: OperationOutcome[];
  index: IndexDocument;
  indexChanged: boolean;
  indexNote: string;
  /** Blob entries no remaining image needs, in listing order (sizeRemovals keeps the files). */
  candidates: RemovalCandidate[];
  skippedCount: number;
}

/** A blob file that may go, with what the scan knows of it. */
export interface RemovalCandidate extends BlobEntry {
  /** Size the scan verified (the file of a deleted image's manifest, config or layer), if any. */
  knownSize: number | undefined;
  stray: boolean;
}

/**
 * Works out, from the plan and the layout as it is now, exactly what to change. No I/O.
 * @param entries every blob entry of the layout, so that garbage left before the plan goes too
 *   (what `umoci gc` would remove); nothing a remaining image needs is ever among the removals.
 */
export function decide(
  scan: LayoutState,
  plan: CleanupPlan,
  entries: readonly BlobEntry[],
): Decision {
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
export function rewriteIndex(
  scan: LayoutState,
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
      mediaType: info?.mediaType || OCI_MANIFEST,
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
export function checkPlanFitsLayout(scan: LayoutState, plan: CleanupPlan): void {
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
  return id.startsWith('@') && isOciDigest(id.slice(1));
}
