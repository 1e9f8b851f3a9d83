import { capRefusal } from '../caps.js';
import type { ImageGraph } from '../image-graph.js';
import { repositoryOfImage, repositoryOfTag } from '../naming.js';
import { computePlan, type EngineOptions, type Seed } from '../plan-engine.js';
import type { CleanupPlan, PlanWarning } from '../plan-types.js';
import { compareIds } from '../sort.js';
import {
  type Evaluation,
  evaluatePolicy,
  inRepository,
  outOfScopeNote,
  resolveNow,
} from './select.js';
import type { PolicyPlanOptions } from './types.js';
import { type CompiledPolicy, compilePolicy } from './validate.js';

/**
 * Plans a cleanup under a retention policy: decides every tag, keeps what kept tags, protected
 * images, out-of-scope repositories and the untagged grace period reach, and refuses the plan
 * when it exceeds a cap. @internal (use `planCleanup(graph, policy, { now })`)
 */
export function planWithPolicy(
  graph: ImageGraph,
  policy: unknown,
  options: PolicyPlanOptions,
): CleanupPlan {
  const compiled = compilePolicy(policy);
  const now = resolveNow(compiled, options);
  const evaluation = evaluatePolicy(graph, compiled, now, options);
  const { keptTags, outOfScope, unknownDates } = evaluation;

  const seeds: Seed[] = [...keptTags].map((tag) => ({
    image: graph.tagTarget(tag) as string,
    tag,
  }));
  for (const image of evaluation.protectedImages) {
    seeds.push({ image, tag: null, note: `protected (${evaluation.protectedBy.get(image)})` });
  }
  let inScopeImages = 0;
  for (const image of graph.images()) {
    const repository = repositoryOfImage(image);
    if (outOfScope.has(repository)) {
      seeds.push({
        image,
        tag: null,
        note: outOfScopeNote(repository),
      });
    } else {
      inScopeImages++;
    }
  }
  const engine: EngineOptions = {};
  const detach = compiled.detachTypes;
  if (detach) {
    engine.detachReferrer = (image) => {
      const type = graph.imageInfo(image)?.artifactType;
      return type !== undefined && detach.some((m) => m.test(type));
    };
  }

  let plan = computePlan(graph, seeds, keptTags, engine);
  const untaggedSeeds = untaggedKeeps(graph, plan, compiled, evaluation, now);
  if (untaggedSeeds.length > 0) {
    plan = computePlan(graph, [...seeds, ...untaggedSeeds], keptTags, engine);
  }

  const detachReferrer = engine.detachReferrer;
  if (detachReferrer) {
    // Recorded in the plan so the apply-time re-check lets exactly these go with the subject kept.
    for (const op of plan.delete) {
      if (graph.targetsOf(op.image, 'referrer').length > 0 && detachReferrer(op.image))
        op.detachedReferrer = true;
    }
  }

  const warnings: PlanWarning[] = [...plan.warnings, ...evaluation.warnings];
  warnings.push(...ageWarnings(graph, evaluation));
  for (const [image, why] of unknownDates) {
    warnings.push({
      code: 'UNKNOWN_DATE',
      id: image,
      message: `${image} ${why}; its date counts as unknown: oldest for keepNewest, never kept by keepYoungerThan or the untagged grace period`,
    });
  }
  warnings.sort((a, b) => compareIds(a.id, b.id) || compareIds(a.code, b.code));
  plan.warnings = warnings;
  // A dangling tag in a repository no rule covers is left alone, like everything there.
  const dangling = plan.danglingTags?.filter((tag) => evaluation.inScope(repositoryOfTag(tag)));
  if (dangling && dangling.length > 0) plan.danglingTags = dangling;
  else delete plan.danglingTags;
  plan.tagDecisions = evaluation.decisions;
  plan.refused = capRefusal(
    {
      ...(compiled.maxDeletions !== null ? { maxDeletions: compiled.maxDeletions } : {}),
      ...(compiled.maxDeletionRatio !== null
        ? { maxDeletionRatio: compiled.maxDeletionRatio }
        : {}),
    },
    plan.delete.length,
    inScopeImages,
  );
  return plan;
}

/**
 * Seeds for the untagged images the policy keeps: those younger than `untagged.keepYoungerThan`,
 * and the `untagged.keepNewest` newest of each repository. Referrers have no age of their own
 * (they follow their subject); platform manifests of an index being deleted follow their index
 * and take no `keepNewest` slot. Sorted by image id, one seed per image.
 */
function untaggedKeeps(
  graph: ImageGraph,
  plan: CleanupPlan,
  compiled: CompiledPolicy,
  evaluation: Evaluation,
  now: number | null,
): Seed[] {
  const grace = compiled.untaggedGrace;
  const newest = compiled.untaggedNewest;
  if ((!grace || now === null) && newest === null) return [];
  const { dates, unknownDates } = evaluation;
  const candidates = plan.delete
    .filter((op) => op.tags.length === 0 && graph.targetsOf(op.image, 'referrer').length === 0)
    .map((op) => op.image);
  const notes = new Map<string, string>();
  if (grace && now !== null) {
    for (const image of candidates) {
      const date = dates.dateOf(image);
      if (date.ms === null) unknownDates.set(image, date.why);
      else if (now - date.ms < grace.ms) {
        notes.set(
          image,
          `untagged grace period (${date.source} ${new Date(date.ms).toISOString()}, younger than ${grace.text})`,
        );
      }
    }
  }
  if (newest !== null) {
    const deleting = new Set(plan.delete.map((op) => op.image));
    const byRepository = new Map<string, { image: string; ms: number; tie: number }[]>();
    for (const image of candidates) {
      if (graph.sourcesOf(image, 'child').some((index) => deleting.has(index))) continue;
      const date = dates.dateOf(image);
      if (date.ms === null) unknownDates.set(image, date.why);
      const repository = repositoryOfImage(image);
      const list = byRepository.get(repository) ?? [];
      list.push({ image, ms: date.ms ?? Number.NEGATIVE_INFINITY, tie: dates.tiebreak(image) });
      byRepository.set(repository, list);
    }
    for (const [repository, list] of byRepository) {
      // Newest first; equal times by the other age source, then by id, so the choice does not
      // depend on load order.
      const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);
      list.sort((x, y) => cmp(y.ms, x.ms) || cmp(y.tie, x.tie) || compareIds(x.image, y.image));
      const count = Math.min(newest, list.length);
      for (let i = 0; i < count; i++) {
        const { image } = list[i] as { image: string };
        if (!notes.has(image)) {
          notes.set(
            image,
            `untagged keepNewest ${newest} (rank ${i + 1} of ${list.length}${inRepository(repository)})`,
          );
        }
      }
    }
  }
  return [...notes]
    .sort((a, b) => compareIds(a[0], b[0]))
    .map(([image, note]) => ({ image, tag: null, note }));
}

/**
 * Warnings for images whose age came from the other source. With `age: pushed` and no image
 * carrying a pushed time at all, one warning says where such times come from instead of one per
 * image.
 */
function ageWarnings(graph: ImageGraph, evaluation: Evaluation): PlanWarning[] {
  const { dates } = evaluation;
  if (dates.fallbacks.size === 0) return [];
  const source = dates.source;
  const other = source === 'created' ? 'pushed' : 'created';
  if (source === 'pushed' && !graph.images().some((id) => graph.imageInfo(id)?.pushed)) {
    return [
      {
        code: 'AGE_SOURCE_UNAVAILABLE',
        id: 'age',
        message:
          'the policy says age: pushed, but no image has a pushed time, so every age comes from created; pushed times come from the registry storage (--storage DIR, or loadGraph storage), from a state file from the second run on (--state FILE, or loadGraph previous), or from a platform API',
      },
    ];
  }
  return [...dates.fallbacks].map(([image, why]) => ({
    code: 'AGE_SOURCE_FALLBACK',
    id: image,
    message: `${image} ${why}, so its age comes from its ${other === 'created' ? 'created date' : 'pushed time'} (age: ${source})`,
  }));
}
