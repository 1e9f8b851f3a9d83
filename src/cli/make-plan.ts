import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidPolicyError } from '../core/errors/invalid-policy-error.js';
import { RegpruneError } from '../core/errors/regprune-error.js';
import type { ImageGraph } from '../core/image-graph.js';
import { planCleanup } from '../core/plan.js';
import type { CleanupPlan } from '../core/plan-types.js';
import { loadPolicy } from '../core/policy/load.js';
import type { RetentionPolicy } from '../core/policy/types.js';
import type { CommandOptions } from './args.js';
import { CliFileError } from './errors.js';
import type { CliIo } from './io.js';
import type { OpenedTarget } from './open-target.js';
import type { Progress } from './progress.js';
import {
  addRepoWarnings,
  checkKeepAgainstEmptyRepos,
  emptyRepoSelections,
} from './repo-selection.js';

/** What a command plans from: the graph, and the plan when a policy or keep list was given. */
export interface Planned {
  graph: ImageGraph;
  plan: CleanupPlan | undefined;
  /** How the plan was made, for headers: `policy FILE (now …)` or `keep a, b`. */
  basis: string | undefined;
}

/** Reads and validates `--policy FILE`; errors name the file. */
export async function readPolicyFile(file: string, io: CliIo): Promise<RetentionPolicy> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliFileError(file, `cannot read the policy (${why}); check the --policy path`, {
      cause: error,
    });
  }
  try {
    return loadPolicy(text);
  } catch (error) {
    if (error instanceof RegpruneError) {
      throw new CliFileError(file, `invalid policy: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Loads the target's graph and plans: with a policy (dates are loaded, ages measured from
 * `--now` or the current time), with `--keep` tags, or not at all (`graph` without either).
 */
export async function makePlan(
  options: CommandOptions,
  target: OpenedTarget,
  io: CliIo,
  progress: Progress,
): Promise<Planned> {
  const policy =
    options.policy !== undefined ? await readPolicyFile(options.policy, io) : undefined;
  progress.status(`loading ${target.description}`);
  const graph = await target.load({
    // Policies order and age tags by `created`; keep lists need no dates.
    dates: policy !== undefined,
    onProgress: (event) => progress.load(event),
  });
  progress.end();
  const emptyRepos = emptyRepoSelections(options, graph);
  if (policy) {
    const now = options.now ?? new Date();
    let plan: CleanupPlan;
    try {
      plan = planCleanup(graph, policy, { now });
    } catch (error) {
      // Checks against the graph (a literal keep entry naming no tag) point into the file too.
      if (error instanceof InvalidPolicyError) {
        throw new CliFileError(options.policy as string, error.message, { cause: error });
      }
      throw error;
    }
    addRepoWarnings(plan.warnings, emptyRepos);
    return { graph, plan, basis: `policy ${options.policy} (now ${now.toISOString()})` };
  }
  if (options.keep.length > 0) {
    checkKeepAgainstEmptyRepos(options, emptyRepos);
    const plan = planCleanup(graph, options.keep);
    addRepoWarnings(plan.warnings, emptyRepos);
    return { graph, plan, basis: `keep ${options.keep.join(', ')}` };
  }
  return { graph, plan: undefined, basis: undefined };
}
