import { deletionReasons, longDeletionReason } from './deletion-reasons.js';
import { PlanMismatchError } from './errors/plan-mismatch-error.js';
import { UnknownTagError } from './errors/unknown-tag-error.js';
import { type ImageGraph, storeOf } from './image-graph.js';
import { type ProtectOptions, resolveImageReferences } from './image-references.js';
import { defineLazySection } from './lazy-sections.js';
import { computePlan, type Seed } from './plan-engine.js';
import type { CleanupPlan, KeptImage, TagDecision } from './plan-types.js';
import { planWithPolicy } from './policy/plan-policy.js';
import type { PolicyPlanOptions, RetentionPolicy } from './policy/types.js';
import { compareIds, naturalSorted, sortIds } from './sort.js';

/**
 * Which tags to keep: tag names, or a predicate over every tag of the graph.
 * Every name must be a tag of the graph (a typo must never widen a deletion).
 */
export type KeepTags = Iterable<string> | ((tag: string) => boolean);

/**
 * The keep list resolved against the graph's sorted tags: a flag per tag position and the kept
 * positions in tag order (the roots). One map lookup per named tag; no set of names and no sort.
 */
function keptTagRoots(
  graph: ImageGraph,
  keepTags: KeepTags,
  role: 'keep' | 'drop' = 'keep',
): { flags: Uint8Array; roots: Int32Array } {
  const store = storeOf(graph);
  const allTags = store.sortedTags();
  const flags = new Uint8Array(allTags.length);
  if (typeof keepTags === 'function') {
    for (let i = 0; i < allTags.length; i++) if (keepTags(allTags[i] as string)) flags[i] = 1;
  } else {
    const names = typeof keepTags === 'string' ? [keepTags] : keepTags;
    const unknown = store.flagSortedTags(names, flags);
    if (unknown.length > 0)
      throw new UnknownTagError([...new Set(unknown)].sort(compareIds), allTags.length, role);
  }
  const roots = new Int32Array(allTags.length);
  let count = 0;
  for (let i = 0; i < allTags.length; i++) if (flags[i]) roots[count++] = i;
  return { flags, roots: roots.subarray(0, count) };
}

/**
 * Resolves {@link KeepTags} against the graph into a set of existing tag names.
 * @throws {UnknownTagError} when a named tag is not in the graph.
 */
export function resolveKeepTags(graph: ImageGraph, keepTags: KeepTags): Set<string> {
  const { flags } = keptTagRoots(graph, keepTags);
  return new Set(
    storeOf(graph)
      .sortedTags()
      .filter((_, i) => flags[i] === 1),
  );
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
  const { flags, roots } = keptTagRoots(graph, keepTags);
  return sortIds(computePlan(graph, roots, flags).delete.map((op) => op.image));
}

/** Decision reason of a tag in a keep list (the keep-list form of {@link planCleanup}). */
const LISTED = 'listed in keepTags';
/** Decision reason of a tag not in the keep list. */
const NOT_LISTED = 'not in keepTags';

function isKeepTags(value: KeepTags | RetentionPolicy): value is KeepTags {
  return (
    typeof value === 'function' ||
    typeof value === 'string' ||
    (typeof value === 'object' && value !== null && Symbol.iterator in value)
  );
}

/**
 * Plans a cleanup that keeps the given tags: which tags to remove, which images to delete (in a
 * safe order), why each remaining image stays, and how many bytes of blobs only deleted images
 * needed. The result is plain JSON in a stable order.
 *
 * @param options.protectImages Images in use (references, see {@link resolveImageReferences}):
 *   they stay with every tag pointing at them, listed or not.
 * @throws {UnknownTagError} when a named tag is not in the graph.
 */
export function planCleanup(
  graph: ImageGraph,
  keepTags: KeepTags,
  options?: ProtectOptions,
): CleanupPlan;
/**
 * Plans a cleanup under a retention policy (see {@link RetentionPolicy}): a tag is kept when any
 * rule keeps it; repositories no rule matches are left untouched; untagged images go unless
 * `untagged.keepYoungerThan` gives them a grace period. `plan.tagDecisions` says for every tag
 * which rule kept it, or that none did. A plan over `maxDeletions` or `maxDeletionRatio` comes back
 * with `refused` set, and adapters refuse to apply it.
 *
 * @param options.now The time ages are measured from; required when the policy uses
 *   `keepYoungerThan` (the core never reads the clock).
 * @throws {InvalidPolicyError} when the policy is invalid, `now` is missing or unreadable, or a
 *   literal `keepTags`, `tags` or `protect.tags` entry names no tag in its scope (a typo must never
 *   widen a deletion; patterns and repository globs that match nothing are plan warnings instead).
 * @example
 * ```ts
 * const plan = planCleanup(graph, loadPolicy(yamlText), { now: new Date() });
 * if (plan.refused) console.error(plan.refused.reason);
 * ```
 */
export function planCleanup(
  graph: ImageGraph,
  policy: RetentionPolicy,
  options?: PolicyPlanOptions,
): CleanupPlan;
export function planCleanup(
  graph: ImageGraph,
  keep: KeepTags | RetentionPolicy,
  options: PolicyPlanOptions = {},
): CleanupPlan {
  if (!isKeepTags(keep)) return planWithPolicy(graph, keep, options);
  return planFromFlags(graph, keptTagRoots(graph, keep), LISTED, NOT_LISTED, options);
}

/**
 * Plans the "delete these" cleanup (a pull request closed: drop `app:pr-123`): every tag is kept
 * except `dropTags`, with the same closure as any plan, so a dropped tag's image stays when another
 * tag or a kept index still needs it (then only the tag is removed).
 *
 * With `options.protectImages`, images in use stay with all their tags, even a tag named to drop.
 *
 * @throws {UnknownTagError} when a named tag is not in the graph (a typo would leave the tag meant).
 * @example
 * ```ts
 * const plan = planDropTags(graph, ['team/app:pr-123']);
 * ```
 */
export function planDropTags(
  graph: ImageGraph,
  dropTags: Iterable<string>,
  options: ProtectOptions = {},
): CleanupPlan {
  const names = typeof dropTags === 'string' ? [dropTags] : [...dropTags];
  const { flags: dropped } = keptTagRoots(graph, names, 'drop');
  const kept = new Uint8Array(dropped.length);
  const roots: number[] = [];
  for (let i = 0; i < dropped.length; i++) {
    if (dropped[i] === 1) continue;
    kept[i] = 1;
    roots.push(i);
  }
  return planFromFlags(
    graph,
    { flags: kept, roots: Int32Array.from(roots) },
    NOT_DROPPED,
    DROPPED,
    options,
  );
}

const NOT_DROPPED = 'not in dropTags';
const DROPPED = 'listed in dropTags';

function planFromFlags(
  graph: ImageGraph,
  { flags, roots }: { flags: Uint8Array; roots: Int32Array },
  keptReason: string,
  droppedReason: string,
  protect: ProtectOptions = {},
): CleanupPlan {
  const allTags = storeOf(graph).sortedTags();
  const inUse = protectedSeeds(graph, allTags, flags, protect);
  const plan = inUse
    ? computePlan(graph, [...seedsOfRoots(graph, allTags, flags), ...inUse.seeds], flags)
    : computePlan(graph, roots, flags);
  if (inUse && inUse.warnings.length > 0) {
    plan.warnings = [...plan.warnings, ...inUse.warnings].sort(
      (a, b) => compareIds(a.id, b.id) || compareIds(a.code, b.code),
    );
  }
  plan.tagDecisions = [];
  defineLazySection(plan, 'tagDecisions', () => {
    const decisions: TagDecision[] = new Array(allTags.length);
    for (let i = 0; i < allTags.length; i++) {
      const listed = flags[i] === 1;
      const tag = allTags[i] as string;
      const protectedReason = inUse?.tagReasons.get(tag);
      decisions[i] = {
        tag,
        kept: listed,
        rule: null,
        reason: protectedReason ?? (listed ? keptReason : droppedReason),
      };
    }
    return decisions;
  });
  return plan;
}

/** Seeds for the flagged tags, in tag order. */
function seedsOfRoots(graph: ImageGraph, allTags: readonly string[], flags: Uint8Array): Seed[] {
  const seeds: Seed[] = [];
  for (let i = 0; i < allTags.length; i++) {
    if (flags[i] !== 1) continue;
    const tag = allTags[i] as string;
    seeds.push({ image: graph.tagTarget(tag) as string, tag });
  }
  return seeds;
}

/**
 * The in-use images of `protect` as seeds, after flagging every tag pointing at one as kept (a
 * pod restarting pulls its tag again, so the tag must stay with the image). `undefined` when
 * there are none to resolve.
 */
function protectedSeeds(
  graph: ImageGraph,
  allTags: readonly string[],
  flags: Uint8Array,
  protect: ProtectOptions,
):
  | { seeds: Seed[]; tagReasons: Map<string, string>; warnings: CleanupPlan['warnings'] }
  | undefined {
  if (!protect.protectImages || protect.protectImages.length === 0) return undefined;
  const source = protect.protectImagesSource ?? 'protectImages';
  const { images, warnings } = resolveImageReferences(graph, protect.protectImages, {
    source,
    ...(protect.registryHost !== undefined ? { registryHost: protect.registryHost } : {}),
  });
  const set = new Set(images);
  const tagReasons = new Map<string, string>();
  for (let i = 0; i < allTags.length; i++) {
    const tag = allTags[i] as string;
    const image = graph.tagTarget(tag) as string;
    if (!set.has(image)) continue;
    flags[i] = 1;
    tagReasons.set(tag, `protected (its image ${image} is in use, per ${source})`);
  }
  const seeds = images.map((image) => ({
    image,
    tag: null,
    note: `protected (in use, per ${source})`,
  }));
  return { seeds, tagReasons, warnings };
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

/** A tag's line under a policy plan: the rule that kept it, or what happens to it. */
function explainPolicyTag(plan: CleanupPlan, decision: TagDecision): string {
  const { tag } = decision;
  if (decision.kept) return `kept: ${decision.reason}`;
  const untag = plan.untag.find((op) => op.tag === tag);
  if (untag) {
    const target = plan.keep.find((entry) => entry.image === untag.image);
    return `untagged: ${decision.reason}; ${tag} is removed, ${untag.image} stays (${target ? formatKeepPath(target) : 'kept'})`;
  }
  const owner = plan.delete.find((op) => op.tags.includes(tag));
  if (owner)
    return `deleted: ${decision.reason}; ${tag} goes with ${owner.image}, which no kept tag reaches`;
  return `not kept: ${decision.reason}`;
}

/**
 * One line saying why an image or tag is kept, untagged or deleted under `plan`, e.g.
 * `kept: latest → D → C (parent)` or `deleted: no kept tag reaches it`. Given the `graph` the plan
 * was made from, a deletion says which case it is: an expired untagged image, a platform manifest
 * of a deleted index, a referrer of a deleted image, a parent only deleted images needed (see
 * {@link deletionReasons}). For a tag of a policy plan
 * it names the rule: `kept: rule 2 keepNewest 10 (rank 3 of 41 images in app/api)`, or
 * `deleted: no rule kept it; app/api:old goes with app/api@sha256:…, which no kept tag reaches`.
 */
export function explain(plan: CleanupPlan, id: string, graph?: ImageGraph): string {
  const decision = plan.tagDecisions?.find((d) => d.tag === id);
  if (decision && decision.reason !== LISTED && decision.reason !== NOT_LISTED) {
    return explainPolicyTag(plan, decision);
  }
  const kept = plan.keep.find((entry) => entry.image === id);
  if (kept) return `kept: ${formatKeepPath(kept)}`;
  const deleted = plan.delete.find((op) => op.image === id);
  if (deleted) {
    const tagList = naturalSorted(deleted.tags).join(', ');
    const reason = graph ? deletionReasons(plan, graph).get(id) : undefined;
    if (reason) return `deleted: ${longDeletionReason(reason, tagList)}`;
    return `deleted: no kept tag reaches it${tagList ? ` (its tags ${tagList} go with it)` : ''}`;
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
