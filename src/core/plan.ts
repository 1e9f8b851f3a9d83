import { PlanMismatchError } from './errors/plan-mismatch-error.js';
import { UnknownTagError } from './errors/unknown-tag-error.js';
import type { ImageGraph } from './image-graph.js';
import { computePlan, type Seed } from './plan-engine.js';
import type { CleanupPlan, KeptImage } from './plan-types.js';
import { compareIds } from './sort.js';

/**
 * Which tags to keep: tag names, or a predicate over every tag of the graph.
 * Every name must be a tag of the graph (a typo must never widen a deletion).
 */
export type KeepTags = Iterable<string> | ((tag: string) => boolean);

/** Resolves {@link KeepTags} against the graph into a set of existing tag names. */
export function resolveKeepTags(graph: ImageGraph, keepTags: KeepTags): Set<string> {
  if (typeof keepTags === 'function') {
    return new Set(graph.tags().filter((tag) => keepTags(tag)));
  }
  const names = typeof keepTags === 'string' ? [keepTags] : [...keepTags];
  const unknown = names.filter((tag) => !graph.hasTag(tag));
  if (unknown.length > 0)
    throw new UnknownTagError([...new Set(unknown)].sort(compareIds), graph.tags().length);
  return new Set(names);
}

function tagSeeds(graph: ImageGraph, kept: Set<string>): Seed[] {
  return [...kept].sort(compareIds).map((tag) => ({ image: graph.tagTarget(tag) as string, tag }));
}

/**
 * Every image that no kept tag reaches, sorted by id (never blob ids).
 *
 * The kept set is the closure of the kept tags' images over `parent`, `child` and `blob` edges and
 * over `referrer` edges in both directions (a kept subject keeps its referrers, a kept referrer
 * keeps its subject), to a fixpoint.
 *
 * @throws {UnknownTagError} when a named tag is not in the graph.
 * @example
 * ```ts
 * orphanedImages(graph, ['version2', 'latest']); // → ['C'] in the second original scenario
 * ```
 */
export function orphanedImages(graph: ImageGraph, keepTags: KeepTags): string[] {
  const kept = resolveKeepTags(graph, keepTags);
  return computePlan(graph, tagSeeds(graph, kept), kept)
    .delete.map((op) => op.image)
    .sort(compareIds);
}

/**
 * Plans a cleanup that keeps the given tags: which tags to remove, which images to delete (in a
 * safe order), why each remaining image stays, and how many bytes of blobs only deleted images
 * needed. The result is plain JSON in a stable order.
 *
 * @throws {UnknownTagError} when a named tag is not in the graph.
 */
export function planCleanup(graph: ImageGraph, keepTags: KeepTags): CleanupPlan {
  const kept = resolveKeepTags(graph, keepTags);
  return computePlan(graph, tagSeeds(graph, kept), kept);
}

const EDGE_WORDS = {
  parent: 'parent',
  child: 'child',
  referrer: 'referrer',
  subject: 'subject',
} as const;

/** The keep reason as text: `latest → D → C (parent)`. */
export function formatKeepPath(entry: KeptImage): string {
  const parts: string[] = [entry.tag ?? entry.note ?? 'kept', entry.path[0] as string];
  for (let i = 1; i < entry.path.length; i++) {
    parts.push(`${entry.path[i]} (${EDGE_WORDS[entry.edges[i - 1] as keyof typeof EDGE_WORDS]})`);
  }
  return parts.join(' → ');
}

/**
 * One line saying why an image or tag is kept, untagged or deleted under `plan`, e.g.
 * `kept: latest → D → C (parent)` or `deleted: no kept tag reaches it`.
 */
export function explain(plan: CleanupPlan, id: string): string {
  const kept = plan.keep.find((entry) => entry.image === id);
  if (kept) return `kept: ${formatKeepPath(kept)}`;
  const deleted = plan.delete.find((op) => op.image === id);
  if (deleted) {
    const tags = deleted.tags.length > 0 ? ` (its tags ${deleted.tags.join(', ')} go with it)` : '';
    return `deleted: no kept tag reaches it${tags}`;
  }
  if (plan.keptTags.includes(id)) {
    const entry = plan.keep.find((e) => e.tag === id && e.path.length === 1);
    return `kept tag: ${id}${entry ? ` → ${entry.image}` : ''}`;
  }
  const untag = plan.untag.find((op) => op.tag === id);
  if (untag) {
    const target = plan.keep.find((entry) => entry.image === untag.image);
    return `untagged: ${id} is removed; ${untag.image} stays (${target ? formatKeepPath(target) : 'kept'})`;
  }
  const owner = plan.delete.find((op) => op.tags.includes(id));
  if (owner) return `deleted: tag ${id} goes with ${owner.image}, which no kept tag reaches`;
  return `unknown: ${id} is neither an image nor a tag of this plan`;
}

/**
 * Simulates `plan` on a copy of `graph` and returns the copy: untags, then deletes in plan order.
 * Checks what a registry would not: each deleted image exists, nothing remaining points at it when
 * its turn comes, and it carries no tag the plan did not expect.
 *
 * @throws {PlanMismatchError} when the plan does not fit the graph (stale, wrong order, other graph).
 */
export function applyPlanToGraph(graph: ImageGraph, plan: CleanupPlan): ImageGraph {
  const next = graph.clone();
  for (const op of plan.untag) {
    if (next.tagTarget(op.tag) !== op.image) {
      throw new PlanMismatchError(
        op.tag,
        `the plan untags it from ${op.image}, but it points at ${next.tagTarget(op.tag) ?? 'nothing'}`,
      );
    }
    next.removeTag(op.tag);
  }
  for (const op of plan.delete) {
    if (!next.hasImage(op.image))
      throw new PlanMismatchError(op.image, 'the plan deletes it, but the graph does not hold it');
    const extra = next.tagsOf(op.image).filter((tag) => !op.tags.includes(tag));
    if (extra.length > 0)
      throw new PlanMismatchError(
        op.image,
        `tagged ${extra.join(', ')}, which the plan did not expect`,
      );
    for (const kind of ['parent', 'child', 'referrer'] as const) {
      const pointers = next.sourcesOf(op.image, kind);
      if (pointers.length > 0) {
        throw new PlanMismatchError(
          op.image,
          `still needed by ${pointers.join(', ')} (${kind} edge) when its deletion comes`,
        );
      }
    }
    next.removeImage(op.image);
  }
  return next;
}
