/**
 * Safety caps: a plan that would delete more than its caps allow comes back `refused`, and the
 * adapters refuse to apply a refused plan. Policies carry caps of their own (`maxDeletions`,
 * `maxDeletionRatio`); {@link refuseOverCaps} applies caps to any plan, keep lists included.
 */
import type { CleanupPlan } from './plan-types.js';

/** Caps on how much one plan may delete. */
export interface DeletionCaps {
  /** At most this many images deleted (a whole number ≥ 0). */
  maxDeletions?: number;
  /** At most this fraction (0 to 1) of the images in scope deleted. */
  maxDeletionRatio?: number;
}

/** How a cap is named in its refusal, so the message says what to raise. */
export interface CapNames {
  maxDeletions: string;
  maxDeletionRatio: string;
  /** How to delete less, e.g. `narrow the rules`. */
  narrow: string;
}

const percent = (fraction: number): string => `${(fraction * 100).toFixed(1).replace(/\.0$/, '')}%`;

/** The advice that ends every refusal; {@link mergeRefusals} reads it back to say it once. */
const ADVICE = /^(.*); check the plan \(explain\), (.*), or raise (.*) if this deletion is meant$/s;

function advise(facts: string[], narrow: string, raises: string[]): string {
  return `${facts.join('; ')}; check the plan (explain), ${narrow}, or raise ${raises.join(' and ')} if this deletion is meant`;
}

/**
 * The reason the caps refuse `deleted` deletions of `inScope` images, or `null` when they allow
 * them. Every exceeded cap is named with its numbers; the advice (what to check, what to raise
 * and to what) comes once at the end.
 */
export function capRefusal(
  caps: DeletionCaps,
  deleted: number,
  inScope: number,
  names: CapNames = {
    maxDeletions: 'maxDeletions',
    maxDeletionRatio: 'maxDeletionRatio',
    narrow: 'narrow the rules',
  },
): { reason: string } | null {
  const facts: string[] = [];
  const raises: string[] = [];
  const cap = caps.maxDeletions;
  if (cap !== undefined && deleted > cap) {
    facts.push(
      `${names.maxDeletions}: the plan deletes ${deleted} images, more than the cap of ${cap}`,
    );
    raises.push(`${names.maxDeletions} to ${deleted}`);
  }
  const ratioCap = caps.maxDeletionRatio;
  const ratio = inScope === 0 ? 0 : deleted / inScope;
  if (ratioCap !== undefined && ratio > ratioCap) {
    facts.push(
      `${names.maxDeletionRatio}: the plan deletes ${deleted} of ${inScope} images in scope (${percent(ratio)}), more than the cap of ${ratioCap} (${percent(ratioCap)})`,
    );
    raises.push(`${names.maxDeletionRatio} to ${Math.ceil(ratio * 1000) / 1000}`);
  }
  return facts.length > 0 ? { reason: advise(facts, names.narrow, raises) } : null;
}

/**
 * One refusal from two (a policy's caps, then the command line's): both sets of facts, then one
 * advice naming every cap to raise. A reason not in {@link capRefusal}'s shape is kept whole.
 */
function mergeRefusals(first: string, second: string): string {
  const a = ADVICE.exec(first);
  const b = ADVICE.exec(second);
  if (!a || !b) return `${first}; ${second}`;
  const narrow = a[2] === b[2] ? (a[2] as string) : `${a[2]} or ${b[2]}`;
  return advise([a[1] as string, b[1] as string], narrow, [a[3] as string, b[3] as string]);
}

/**
 * Marks `plan` refused when it deletes more than `caps` allow (keeping any refusal it already
 * has), so no adapter applies it. The ratio counts against `inScope` images, by default every
 * image the plan looked at (`plan.summary.images`). Returns the same plan.
 * @throws {RangeError} when a cap is not a whole number ≥ 0 or a ratio from 0 to 1.
 * @example
 * ```ts
 * const plan = refuseOverCaps(planCleanup(graph, ['app:latest']), { maxDeletions: 50 });
 * if (plan.refused) console.error(plan.refused.reason);
 * ```
 */
export function refuseOverCaps(
  plan: CleanupPlan,
  caps: DeletionCaps,
  inScope: number = plan.summary.images,
  names?: CapNames,
): CleanupPlan {
  const { maxDeletions, maxDeletionRatio } = caps;
  if (maxDeletions !== undefined && !(Number.isSafeInteger(maxDeletions) && maxDeletions >= 0)) {
    throw new RangeError(`maxDeletions must be a whole number ≥ 0, got ${maxDeletions}`);
  }
  if (
    maxDeletionRatio !== undefined &&
    !(Number.isFinite(maxDeletionRatio) && maxDeletionRatio >= 0 && maxDeletionRatio <= 1)
  ) {
    throw new RangeError(`maxDeletionRatio must be from 0 to 1, got ${maxDeletionRatio}`);
  }
  const refusal = capRefusal(caps, plan.delete.length, inScope, names);
  if (refusal) {
    plan.refused = plan.refused
      ? { reason: mergeRefusals(plan.refused.reason, refusal.reason) }
      : refusal;
  }
  return plan;
}
