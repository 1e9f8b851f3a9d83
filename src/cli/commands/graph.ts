import { graphDot } from '../../core/format/dot.js';
import { graphView } from '../../core/format/graph-view.js';
import { graphMermaid } from '../../core/format/mermaid.js';
import type { PlanningOptions } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { makePlan } from '../make-plan.js';
import { openTarget } from '../open-target.js';
import { createProgress } from '../progress.js';

/** `regprune graph`: the image graph as Mermaid, DOT or JSON, styled by the plan when given. */
export async function graphCommand(options: PlanningOptions, io: CliIo): Promise<ExitCode> {
  const target = await openTarget(options, io);
  const { graph, plan } = await makePlan(options, target, io, createProgress(io));
  const view = graphView(graph, target.description, plan);
  if (options.format === 'json') io.stdout(`${JSON.stringify(view, null, 2)}\n`);
  else if (options.format === 'dot') io.stdout(graphDot(view));
  else io.stdout(graphMermaid(view));
  return EXIT.ok;
}
