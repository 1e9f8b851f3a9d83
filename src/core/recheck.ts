import type { ImageGraph } from './image-graph.js';
import { formatKeepPath } from './plan.js';
import { computePlan, type Seed } from './plan-engine.js';
import type { CleanupPlan, DeleteOperation } from './plan-types.js';
import { compareIds } from './sort.js';

/** A planned deletion that must not happen any more. */
export interface SkippedDeletion {
  op: DeleteOperation;
  /** e.g. `changed since plan: app:v2 → app@sha256:… → app@sha256:… (child)` */
  reason: string;
}

/** Outcome of {@link recheckPlan}. */
export interface RecheckResult {
  /** Deletions still safe, in plan order. */
  proceed: DeleteOperation[];
  /** Deletions now reached from a current tag (directly or through any edge kind). */
  skip: SkippedDeletion[];
}

/**
 * The stale-plan re-check adapters run just before deleting: given the tags as they are now
 * (`tag → image`), which planned deletions does a current tag reach — through parent, child and
 * referrer edges in both directions, exactly as planning does? Those are skipped; the rest proceed.
 * Deletions marked `detachedReferrer` (a policy's `referrers` list) are not saved by their subject,
 * only by a path that reaches them otherwise (e.g. a tag on the referrer itself).
 *
 * `graph` must hold every image a current tag points at (adapters load new manifests first). A
 * current tag pointing at an image the graph lacks makes every deletion in `scope` unsafe, because
 * nothing is known about what that image needs; they are all skipped with that reason.
 *
 * @param scope Only deletions whose image satisfies this are rechecked (e.g. one repository);
 *   the others are returned in `proceed` untouched.
 */
export function recheckPlan(
  graph: ImageGraph,
  plan: CleanupPlan,
  currentTags: Iterable<readonly [tag: string, image: string]>,
  scope: (image: string) => boolean = () => true,
): RecheckResult {
  const seeds: Seed[] = [];
  const unknown: string[] = [];
  for (const [tag, image] of currentTags) {
    if (graph.hasImage(image)) seeds.push({ image, tag });
    else unknown.push(`${tag} → ${image}`);
  }
  seeds.sort((a, b) => compareIds(a.tag as string, b.tag as string));
  const proceed: DeleteOperation[] = [];
  const skip: SkippedDeletion[] = [];
  if (unknown.length > 0) {
    const reason = `changed since plan: tag ${unknown.sort(compareIds).join(', ')} points at an image the plan never saw`;
    for (const op of plan.delete) scope(op.image) ? skip.push({ op, reason }) : proceed.push(op);
    return { proceed, skip };
  }
  // Referrers the plan deletes on purpose although their subject stays are not saved by it.
  const detached = new Set(plan.delete.filter((op) => op.detachedReferrer).map((op) => op.image));
  const reached = computePlan(
    graph,
    seeds,
    new Set(seeds.map((s) => s.tag as string)),
    detached.size > 0 ? { detachReferrer: (image) => detached.has(image) } : {},
  );
  const reasons = new Map(reached.keep.map((k) => [k.image, k]));
  for (const op of plan.delete) {
    const entry = scope(op.image) ? reasons.get(op.image) : undefined;
    if (entry) skip.push({ op, reason: `changed since plan: ${formatKeepPath(entry)}` });
    else proceed.push(op);
  }
  return { proceed, skip };
}
