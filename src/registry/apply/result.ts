/** The run's result: outcomes in plan order, totals and the notes every result carries. */
import type { CleanupPlan } from '../../core/plan-types.js';
import type { ApplyResult, OperationOutcome } from '../../core/target.js';
import type { RegistryClient } from '../client.js';

/** The note every registry result carries: deletes unlink, only the registry's GC frees storage. */
export const GC_NOTE =
  'Deleting manifests only unlinks them: storage is freed when the registry runs its own garbage collection, e.g. `docker-registry garbage-collect /etc/docker/registry/config.yml` (registry stopped or read-only). Do not add `--delete-untagged`/`-m` on distribution 2.8: it also deletes the children of tagged multi-arch indexes.';

/**
 * Outcomes in the plan's order, whatever order the registry answered in, so that two runs diff
 * cleanly: untags as planned, then wave by wave the fallback-index rewrites (by id) before the
 * deletions (in plan order: wave, then id).
 */
export function inPlanOrder(plan: CleanupPlan, outcomes: OperationOutcome[]): OperationOutcome[] {
  const untagAt = new Map(plan.untag.map((op, i) => [op.tag, i]));
  const deleteAt = new Map(plan.delete.map((op, i) => [op.image, i]));
  const waveOf = new Map(plan.delete.map((op) => [op.image, op.wave]));
  const waveOfDigest = new Map(
    plan.delete.map((op) => [op.image.replace('@sha256:', ':sha256-'), op.wave]),
  );
  const key = (o: OperationOutcome): [number, number, number, string] => {
    if (o.action === 'untag') return [-1, 0, untagAt.get(o.id) ?? 0, o.id];
    if (o.action === 'delete') return [waveOf.get(o.id) ?? 0, 1, deleteAt.get(o.id) ?? 0, o.id];
    // A rewrite goes with the wave of its subject's deletion, or else of the first wave.
    return [waveOfDigest.get(o.id) ?? 0, 0, 0, o.id];
  };
  return outcomes
    .map((o) => ({ o, k: key(o) }))
    .sort(
      (a, b) =>
        a.k[0] - b.k[0] ||
        a.k[1] - b.k[1] ||
        a.k[2] - b.k[2] ||
        (a.k[3] < b.k[3] ? -1 : a.k[3] > b.k[3] ? 1 : 0),
    )
    .map(({ o }) => o);
}

export function finish(
  dryRun: boolean,
  outcomes: OperationOutcome[],
  reclaimableBytes: number,
  client: RegistryClient,
): ApplyResult {
  const totals = { done: 0, skipped: 0, failed: 0, planned: 0 };
  for (const o of outcomes) totals[o.status]++;
  // distribution's garbage-collection advice is wrong on a hosted platform, which frees storage itself.
  const notes = [
    client.platform
      ? `Deleted through the ${client.platform.name} API (${client.platform.apiUrl}); the platform frees the storage itself.`
      : GC_NOTE,
  ];
  if (dryRun) notes.unshift('Dry run: nothing was sent; `requests` list what would be.');
  return { dryRun, outcomes, totals, reclaimableBytes, notes };
}
