import type { ImageGraph } from '../core/image-graph.js';
import type { CleanupPlan } from '../core/plan-types.js';
import type { ApplyOptions, ApplyResult, CleanupTarget } from '../core/target.js';
import { applyPlan } from './apply-plan.js';
import type { RegistryClient } from './client.js';
import { type LoadGraphOptions, loadGraph } from './load-graph.js';

/**
 * A registry as a {@link CleanupTarget}: `loadGraph` with `loadOptions` (per-call options win),
 * `applyPlan` with the graph of the last load for the stale-plan re-check.
 */
export function registryTarget(
  client: RegistryClient,
  loadOptions: LoadGraphOptions = {},
): CleanupTarget {
  let last: ImageGraph | undefined;
  return {
    description: client.url,
    async loadGraph(options = {}) {
      last = await loadGraph(client, { ...loadOptions, ...options });
      return last;
    },
    applyPlan(plan: CleanupPlan, options: ApplyOptions = {}): Promise<ApplyResult> {
      return applyPlan(client, plan, { ...options, ...(last ? { graph: last } : {}) });
    },
  };
}
