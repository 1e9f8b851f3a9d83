import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { refuseOverCaps } from '../core/caps.js';
import { InvalidPolicyError } from '../core/errors/invalid-policy-error.js';
import { RegpruneError } from '../core/errors/regprune-error.js';
import type { ImageGraph } from '../core/image-graph.js';
import { type ProtectOptions, parseImageReferences } from '../core/image-references.js';
import { planCleanup, planDropTags } from '../core/plan.js';
import { checkPlanTarget, parsePlan } from '../core/plan-file.js';
import type { CleanupPlan, PlanOrigin } from '../core/plan-types.js';
import { loadPolicy } from '../core/policy/load.js';
import type { RetentionPolicy } from '../core/policy/types.js';
import type { CleanupTarget } from '../core/target.js';
import type { PlanningOptions } from './args.js';
import { CliFileError, UsageError } from './errors.js';
import type { CliIo } from './io.js';
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

/** The command line's caps count against every image loaded (the `--repo` selection). */
const CLI_CAPS = {
  maxDeletions: '--max-deletions',
  maxDeletionRatio: '--max-deletion-ratio',
  narrow: 'narrow --repo or keep more tags',
};

const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

/** Reads and validates `--policy FILE`; errors name the file. */
export async function readPolicyFile(file: string, io: CliIo): Promise<RetentionPolicy> {
  return (await readPolicy(file, io)).policy;
}

async function readPolicy(
  file: string,
  io: CliIo,
): Promise<{ policy: RetentionPolicy; digest: string }> {
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
    return { policy: loadPolicy(text), digest: `sha256:${sha256(text)}` };
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
  options: PlanningOptions,
  target: CleanupTarget,
  io: CliIo,
  progress: Progress,
): Promise<Planned> {
  if (options.plan !== undefined) return readSavedPlan(options, options.plan, target, io, progress);
  const read = options.policy !== undefined ? await readPolicy(options.policy, io) : undefined;
  const policy = read?.policy;
  // Read before the load, so a wrong path fails at once.
  const protect = await readProtectFrom(options, target, io);
  progress.status(`loading ${target.description}`);
  const graph = await target.loadGraph({
    // Policies order and age tags by `created`; keep lists need no dates.
    dates: policy !== undefined,
    onProgress: (event) => progress.load(event),
  });
  progress.end();
  const origin = (basis: PlanOrigin['basis']): PlanOrigin => ({
    target: target.description,
    basis,
    ...(options.repos.length > 0 ? { repositories: [...options.repos] } : {}),
    madeAt: new Date().toISOString(),
  });
  const emptyRepos = emptyRepoSelections(options, graph);
  if (policy && read) {
    const now = options.now ?? new Date();
    let plan: CleanupPlan;
    try {
      plan = planCleanup(graph, policy, { now, ...protect });
    } catch (error) {
      // Checks against the graph (a literal keep entry naming no tag) point into the file too.
      if (error instanceof InvalidPolicyError) {
        throw new CliFileError(options.policy as string, error.message, { cause: error });
      }
      throw error;
    }
    addRepoWarnings(plan.warnings, emptyRepos);
    if (options.caps) refuseOverCaps(plan, options.caps, plan.summary.images, CLI_CAPS);
    plan.origin = { ...origin('policy'), policyDigest: read.digest, now: now.toISOString() };
    return { graph, plan, basis: `policy ${options.policy} (now ${now.toISOString()})` };
  }
  if (options.keep.length > 0) {
    checkKeepAgainstEmptyRepos(options, emptyRepos);
    const plan = planCleanup(graph, options.keep, protect);
    addRepoWarnings(plan.warnings, emptyRepos);
    if (options.caps) refuseOverCaps(plan, options.caps, plan.summary.images, CLI_CAPS);
    plan.origin = { ...origin('keep'), keep: [...options.keep] };
    return { graph, plan, basis: `keep ${options.keep.join(', ')}` };
  }
  if (options.drop && options.drop.length > 0) {
    const plan = planDropTags(graph, options.drop, protect);
    addRepoWarnings(plan.warnings, emptyRepos);
    if (options.caps) refuseOverCaps(plan, options.caps, plan.summary.images, CLI_CAPS);
    plan.origin = { ...origin('drop'), drop: [...options.drop] };
    return { graph, plan, basis: `drop ${options.drop.join(', ')}` };
  }
  return { graph, plan: undefined, basis: undefined };
}

/** A list of image references in use; a cluster's worth is a few megabytes at most. */
const MAX_PROTECT_BYTES = 64 * 1024 * 1024;

/**
 * `--protect-from FILE…`: the image references the files list, as planning options naming the
 * files and the registry's host (references to other hosts are ignored with a warning).
 */
async function readProtectFrom(
  options: PlanningOptions,
  target: CleanupTarget,
  io: CliIo,
): Promise<ProtectOptions> {
  // The registry's host also scopes the policy's protect.images references.
  const host = target.kind === 'registry' ? { registryHost: new URL(target.description).host } : {};
  const files = options.protectFrom ?? [];
  if (files.length === 0) return host;
  const references: string[] = [];
  for (const file of files) {
    const bytes = await readBoundedFile(
      file,
      io,
      MAX_PROTECT_BYTES,
      'the list of images in use',
      '--protect-from',
    );
    references.push(...parseImageReferences(bytes.toString('utf8')));
  }
  return {
    protectImages: [...new Set(references)],
    protectImagesSource: files.join(', '),
    ...host,
  };
}

/** A saved plan is JSON text; anything larger than this is not one regprune wrote for a review. */
const MAX_PLAN_BYTES = 512 * 1024 * 1024;

/**
 * `apply --plan FILE`: the reviewed plan, checked for shape, pin (`--plan-sha256`) and target, and
 * the target's graph as it is now (the adapters re-check every deletion against it).
 */
async function readSavedPlan(
  options: PlanningOptions,
  file: string,
  target: CleanupTarget,
  io: CliIo,
  progress: Progress,
): Promise<Planned> {
  const bytes = await readPlanBytes(file, io);
  const digest = sha256(bytes);
  if (options.planSha256 !== undefined && options.planSha256 !== digest) {
    throw new CliFileError(
      file,
      `its sha256 is ${digest}, not the reviewed ${options.planSha256} given with --plan-sha256; the file changed since it was reviewed, so nothing is applied`,
    );
  }
  let plan: CleanupPlan;
  try {
    plan = parsePlan(bytes.toString('utf8'));
  } catch (error) {
    if (error instanceof RegpruneError) {
      throw new CliFileError(file, `not an applicable plan: ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (plan.origin === undefined) {
    throw new CliFileError(
      file,
      'the plan records no target (origin.target), so regprune cannot tell it was made for this one; save it with `regprune plan <target> … --format json`',
    );
  }
  checkPlanTarget(plan, target.description);
  progress.status(`loading ${target.description}`);
  const graph = await target.loadGraph({
    dates: false,
    onProgress: (event) => progress.load(event),
  });
  progress.end();
  const made =
    plan.origin.basis === 'keep'
      ? `keep ${plan.origin.keep?.join(', ') ?? '?'}`
      : plan.origin.basis === 'drop'
        ? `drop ${plan.origin.drop?.join(', ') ?? '?'}`
        : `policy ${plan.origin.policyDigest ?? '?'}`;
  return {
    graph,
    plan,
    basis: `reviewed plan ${file} (sha256:${digest}; made from ${made}${plan.origin.madeAt ? ` at ${plan.origin.madeAt}` : ''})`,
  };
}

function readPlanBytes(file: string, io: CliIo): Promise<Buffer> {
  return readBoundedFile(file, io, MAX_PLAN_BYTES, 'the plan', '--plan');
}

/** A regular file of at most `limit` bytes; errors name the file and the option. */
async function readBoundedFile(
  file: string,
  io: CliIo,
  limit: number,
  what: string,
  option: string,
): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    // Non-blocking open: a FIFO named as the plan must fail the check below, not wait for a writer.
    handle = await open(resolve(io.cwd, file), constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > limit) throw new Error(`larger than ${limit} bytes`);
    return await handle.readFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliFileError(file, `cannot read ${what} (${why}); check the ${option} path`, {
      cause: error,
    });
  } finally {
    await handle?.close();
  }
}

/** {@link makePlan} for the commands that need a plan: `plan`, `apply` and `explain`. */
export async function makeRequiredPlan(
  options: PlanningOptions,
  target: CleanupTarget,
  io: CliIo,
  progress: Progress,
): Promise<{ graph: ImageGraph; plan: CleanupPlan; basis: string }> {
  const { graph, plan, basis } = await makePlan(options, target, io, progress);
  // args.ts asks for a basis already; options built by other code get the same usage error.
  if (!plan || basis === undefined) {
    throw new UsageError(
      options.command,
      '--policy',
      `regprune ${options.command} needs --policy FILE, at least one --keep TAG or --drop TAG`,
    );
  }
  return { graph, plan, basis };
}
