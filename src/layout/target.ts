import type { CleanupTarget } from '../core/target.js';
import { applyLayoutPlan } from './apply-plan.js';
import { loadLayoutGraph } from './load-graph.js';

/**
 * An OCI image layout as a {@link CleanupTarget}, so scripts and the CLI treat a layout and a
 * registry alike. `description` is `oci:<dir>`.
 * @example
 * ```ts
 * const target = layoutTarget('./oci');
 * const plan = planCleanup(await target.loadGraph(), ['latest']);
 * await target.applyPlan(plan, { dryRun: true });
 * ```
 */
export function layoutTarget(dir: string): CleanupTarget {
  return {
    description: `oci:${dir}`,
    loadGraph: (options = {}) => loadLayoutGraph(dir, options),
    applyPlan: (plan, options = {}) => applyLayoutPlan(dir, plan, options),
  };
}
