/**
 * Why each image of a plan is deleted, derived from the graph and the plan alone (the plan keeps no
 * reason per deletion, so plans made by any version can be explained). "No kept tag reaches it" is
 * true of every deletion; what a person needs is which of the cases it is.
 */
import { artifactName } from './format/describe.js';
import type { ImageGraph } from './image-graph.js';
import type { CleanupPlan } from './plan-types.js';

/**
 * Why one image is deleted:
 * - `referrer`: a signature, SBOM or other referrer of deleted images (`of`); referrers go with
 *   their subject. `detached` when a policy's `referrers` list lets it go on its own.
 * - `child`: a platform manifest of deleted indexes (`of`).
 * - `tagged`: it has tags, and no rule kept any of them.
 * - `parent`: untagged, and only deleted images (`of`) were built on it.
 * - `untagged`: no tag points at it; `expired` for policy plans, whose untagged rules
 *   (`keepYoungerThan`, `keepNewest`) did not keep it.
 */
export type DeletionReason =
  | { kind: 'referrer'; of: string[]; artifact: string | null; detached: boolean }
  | { kind: 'child'; of: string[] }
  | { kind: 'tagged'; tags: string[] }
  | { kind: 'parent'; of: string[] }
  | { kind: 'untagged'; expired: boolean; created: string | null };

/** Reasons that keep lists and drop lists give their tags; any other reason comes from a policy. */
const LIST_REASONS = new Set([
  'listed in keepTags',
  'not in keepTags',
  'listed in dropTags',
  'not in dropTags',
]);

function isPolicyPlan(plan: CleanupPlan): boolean {
  if (plan.origin) return plan.origin.basis === 'policy';
  return (plan.tagDecisions ?? []).some((d) => d.rule !== null || !LIST_REASONS.has(d.reason));
}

/**
 * The reason for each deletion of `plan`, by image id. `graph` is the graph the plan was made from
 * (or the registry as loaded now); images it does not hold are described by the plan alone.
 */
export function deletionReasons(plan: CleanupPlan, graph: ImageGraph): Map<string, DeletionReason> {
  const deleted = new Set(plan.delete.map((op) => op.image));
  const policy = isPolicyPlan(plan);
  const reasons = new Map<string, DeletionReason>();
  for (const op of plan.delete) {
    const id = op.image;
    const known = graph.hasImage(id);
    const info = known ? graph.imageInfo(id) : undefined;
    const subjects = known ? graph.targetsOf(id, 'referrer') : [];
    const deletedSubjects = subjects.filter((s) => deleted.has(s));
    if (op.detachedReferrer || deletedSubjects.length > 0) {
      reasons.set(id, {
        kind: 'referrer',
        of: op.detachedReferrer ? subjects : deletedSubjects,
        artifact: info?.artifactType ? artifactName(info.artifactType) : null,
        detached: op.detachedReferrer === true,
      });
      continue;
    }
    const indexes = known ? graph.sourcesOf(id, 'child').filter((i) => deleted.has(i)) : [];
    if (indexes.length > 0) {
      reasons.set(id, { kind: 'child', of: indexes });
      continue;
    }
    if (op.tags.length > 0) {
      reasons.set(id, { kind: 'tagged', tags: op.tags });
      continue;
    }
    const builtOn = known ? graph.sourcesOf(id, 'parent').filter((c) => deleted.has(c)) : [];
    if (builtOn.length > 0) {
      reasons.set(id, { kind: 'parent', of: builtOn });
      continue;
    }
    reasons.set(id, { kind: 'untagged', expired: policy, created: info?.created ?? null });
  }
  return reasons;
}

const list = (ids: readonly string[], quote: (id: string) => string): string =>
  ids.length <= 3
    ? ids.map(quote).join(', ')
    : `${ids.slice(0, 3).map(quote).join(', ')} and ${ids.length - 3} more`;

/** A few words for a table column: `child of deleted index X`, `untagged, expired`, … */
export function shortDeletionReason(
  reason: DeletionReason,
  quote: (id: string) => string = (id) => id,
): string {
  switch (reason.kind) {
    case 'referrer':
      return reason.detached
        ? 'referrer the policy lets go on its own'
        : `referrer of deleted ${list(reason.of, quote)}`;
    case 'child':
      return `child of deleted index ${list(reason.of, quote)}`;
    case 'tagged':
      return 'tags not kept';
    case 'parent':
      return `parent of deleted ${list(reason.of, quote)}`;
    case 'untagged':
      return reason.expired ? 'untagged, expired' : 'untagged';
  }
}

/** The sentence `explain` gives for a deletion (after `deleted: `). */
export function longDeletionReason(reason: DeletionReason, tagList: string): string {
  const tags = tagList ? ` (its tags ${tagList} go with it)` : '';
  switch (reason.kind) {
    case 'referrer': {
      const what = `a referrer${reason.artifact ? ` (${reason.artifact})` : ''}`;
      return reason.detached
        ? `${what} whose artifact type the policy's referrers list lets go on its own, although its subject ${list(reason.of, (s) => s)} may stay${tags}`
        : `${what} of ${list(reason.of, (s) => s)}, which ${reason.of.length === 1 ? 'is' : 'are'} deleted too; referrers go with their subject${tags}`;
    }
    case 'child':
      return `a platform manifest of index ${list(reason.of, (s) => s)}, which ${reason.of.length === 1 ? 'is' : 'are'} deleted too; no kept tag reaches it${tags}`;
    case 'tagged':
      return `no kept tag reaches it${tags}`;
    case 'parent':
      return `an untagged parent that only deleted images (${list(reason.of, (s) => s)}) were built on; no kept tag reaches it`;
    case 'untagged':
      return reason.expired
        ? `an expired untagged image${reason.created ? ` (created ${reason.created})` : ''}: no tag points at it, no kept tag reaches it, and the policy's untagged rules (keepYoungerThan, keepNewest) do not keep it`
        : 'an untagged image: no tag points at it and no kept tag reaches it';
  }
}
