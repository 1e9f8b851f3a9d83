import type { CleanupPlan, TagDecision } from '../plan-types.js';
import { compareNatural } from '../sort.js';

/** What happens to a tag under a plan. */
export type TagFate = 'keep' | 'untag' | 'delete' | 'unchanged';

/** Each tag's fate: kept, removed while its image stays, or gone with its deleted image. */
export function tagFates(plan: CleanupPlan): Map<string, TagFate> {
  const fates = new Map<string, TagFate>();
  for (const tag of plan.keptTags) fates.set(tag, 'keep');
  for (const op of plan.untag) fates.set(op.tag, 'untag');
  for (const op of plan.delete) for (const tag of op.tags) fates.set(tag, 'delete');
  return fates;
}

/** The plan's tag decisions with each tag's fate, in natural order of the tags (`main-2` before `main-10`). */
export function decisionsWithFates(plan: CleanupPlan): Array<TagDecision & { fate: TagFate }> {
  const fates = tagFates(plan);
  return (plan.tagDecisions ?? [])
    .map((d) => ({ ...d, fate: fates.get(d.tag) ?? 'unchanged' }))
    .sort((a, b) => compareNatural(a.tag, b.tag));
}

/** The fate of an image: `delete`, `untag` (stays but loses a tag) or `keep`. */
export type ImageFate = 'keep' | 'untag' | 'delete';

/** Each image's fate under the plan. */
export function imageFates(plan: CleanupPlan): Map<string, ImageFate> {
  const fates = new Map<string, ImageFate>();
  for (const entry of plan.keep) fates.set(entry.image, 'keep');
  for (const op of plan.untag) fates.set(op.image, 'untag');
  for (const op of plan.delete) fates.set(op.image, 'delete');
  return fates;
}
