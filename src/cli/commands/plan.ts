import type { PlanningOptions } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { makeRequiredPlan } from '../make-plan.js';
import { openTarget } from '../open-target.js';
import { createProgress } from '../progress.js';
import { formatPlan, refusedMessage } from './format-plan.js';

/** `regprune plan`: prints the plan; exit 3 when a safety cap refused it. */
export async function planCommand(options: PlanningOptions, io: CliIo): Promise<ExitCode> {
  const target = await openTarget(options, io);
  const { graph, plan, basis } = await makeRequiredPlan(options, target, io, createProgress(io));
  io.stdout(formatPlan(options.format, plan, { target: target.description, basis }, graph));
  if (plan.refused) {
    io.stderr(refusedMessage(plan));
    return EXIT.refused;
  }
  return EXIT.ok;
}
