import type { ImageGraph } from '../image-graph.js';
import { repositoryOfImage } from '../naming.js';
import { computePlan, type EngineOptions, type Seed } from '../plan-engine.js';
import type { CleanupPlan, PlanWarning } from '../plan-types.js';
import { compareIds } from '../sort.js';
import { evaluatePolicy, repositoryLabel, resolveNow } from './select.js';
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
  const evaluation = evaluatePolicy(graph, compiled, now);
  const { keptTags, outOfScope, unknownDates } = evaluation;

  const seeds: Seed[] = [...keptTags].map((tag) => ({
    image: graph.tagTarget(tag) as string,
    tag,
  }));
  for (const image of evaluation.protectedImages) {
    seeds.push({ image, tag: null, note: 'protected (protect.images)' });
  }
  let inScopeImages = 0;
  for (const image of graph.images()) {
    const repository = repositoryOfImage(image);
    if (outOfScope.has(repository)) {
      seeds.push({
        image,
        tag: null,
        note: `repository ${repositoryLabel(repository)} is out of policy scope`,
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
  const grace = compiled.untaggedGrace;
  if (grace && now !== null) {
    const graceSeeds: Seed[] = [];
    for (const op of plan.delete) {
      // Referrers have no grace of their own: they follow their subject.
      if (op.tags.length > 0 || graph.targetsOf(op.image, 'referrer').length > 0) continue;
      const date = evaluation.dates.dateOf(op.image);
      if (date.ms === null) unknownDates.set(op.image, date.why);
      else if (now - date.ms < grace.ms) {
        graceSeeds.push({
          image: op.image,
          tag: null,
          note: `untagged grace period (created ${new Date(date.ms).toISOString()}, younger than ${grace.text})`,
        });
      }
    }
    if (graceSeeds.length > 0) {
      graceSeeds.sort((a, b) => compareIds(a.image, b.image));
      plan = computePlan(graph, [...seeds, ...graceSeeds], keptTags, engine);
    }
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
  for (const [image, why] of unknownDates) {
    warnings.push({
      code: 'UNKNOWN_DATE',
      id: image,
      message: `${image} ${why}; its date counts as unknown: oldest for keepNewest, never kept by keepYoungerThan or the untagged grace period`,
    });
  }
  warnings.sort((a, b) => compareIds(a.id, b.id) || compareIds(a.code, b.code));
  plan.warnings = warnings;
  plan.tagDecisions = evaluation.decisions;
  plan.refused = refusal(compiled, plan.delete.length, inScopeImages);
  return plan;
}

/** The reason a cap refuses the plan, or `null`. Both caps are reported when both are exceeded. */
function refusal(
  compiled: CompiledPolicy,
  deleted: number,
  inScope: number,
): { reason: string } | null {
  const reasons: string[] = [];
  const cap = compiled.maxDeletions;
  if (cap !== null && deleted > cap) {
    reasons.push(
      `maxDeletions: the plan deletes ${deleted} images, more than the cap of ${cap}; check the plan (explain), narrow the rules, or raise maxDeletions to ${deleted} if this deletion is meant`,
    );
  }
  const ratioCap = compiled.maxDeletionRatio;
  const ratio = inScope === 0 ? 0 : deleted / inScope;
  if (ratioCap !== null && ratio > ratioCap) {
    reasons.push(
      `maxDeletionRatio: the plan deletes ${deleted} of ${inScope} images in scope (${percent(ratio)}), more than the cap of ${ratioCap} (${percent(ratioCap)}); check the plan (explain), narrow the rules, or raise maxDeletionRatio to ${Math.ceil(ratio * 1000) / 1000} if this deletion is meant`,
    );
  }
  return reasons.length > 0 ? { reason: reasons.join('; ') } : null;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1).replace(/\.0$/, '')}%`;
}
