import { planMarkdown } from '../../core/format/plan-markdown.js';
import { type PlanHeader, planTable } from '../../core/format/plan-table.js';
import type { ImageGraph } from '../../core/image-graph.js';
import type { CleanupPlan } from '../../core/plan-types.js';
import type { OutputFormat } from '../args.js';

/** The plan in `format` (`json` is the plan itself, unchanged). */
export function formatPlan(
  format: OutputFormat,
  plan: CleanupPlan,
  header: PlanHeader,
  graph: ImageGraph,
): string {
  if (format === 'json') return `${JSON.stringify(plan, null, 2)}\n`;
  if (format === 'markdown') return planMarkdown(plan, header, graph);
  return planTable(plan, header, graph);
}

/** The message for a plan a safety cap refused. */
export function refusedMessage(plan: CleanupPlan): string {
  return `error: the plan was refused by a safety cap: ${plan.refused?.reason}; nothing was applied\n`;
}
