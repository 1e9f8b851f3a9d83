import { parseArgs } from 'node:util';
import { repositoryOfTag } from '../core/naming.js';
import {
  type CommandOptions,
  checkFormat,
  type PlanningCommand,
  type PlanningOptions,
  platformOf,
} from './command-options.js';
import { type CommandName, UsageError } from './errors.js';
import { type OptionValues, parserOptions, registryOnlyGiven } from './options.js';
import { checkRestoreOptions, checkVerifyOptions } from './registry-command-args.js';
import { checkRepoGlobs, repoMatchers } from './repo-selection.js';
import { parseTarget, type TargetSpec } from './target-spec.js';

export type {
  BaseOptions,
  CommandOptions,
  OutputFormat,
  PlanningCommand,
  PlanningOptions,
  RestoreOptions,
  VerifyOptions,
} from './command-options.js';
export { FORMATS } from './command-options.js';

/** What the command line asks for. */
export type CommandLine =
  | { kind: 'help'; command?: CommandName }
  | { kind: 'version' }
  | { kind: 'run'; options: CommandOptions };

const PASSWORD_REFUSED =
  'not accepted: a password on the command line is visible to other users (ps) and kept in shell history; use --password-stdin (e.g. `printf %s "$TOKEN" | regprune … --username me --password-stdin`), REGPRUNE_USERNAME/REGPRUNE_PASSWORD, or Docker config';

const COMMANDS: readonly CommandName[] = ['plan', 'apply', 'explain', 'graph', 'restore', 'verify'];

function isCommand(word: string | undefined): word is CommandName {
  return word !== undefined && (COMMANDS as readonly string[]).includes(word);
}

/** Turns node's parseArgs messages into ones that name the argument. */
function parseError(command: CommandName, error: unknown): UsageError {
  const message = (error as Error).message ?? String(error);
  const code = (error as { code?: string }).code;
  const named = /'(-[^' ]+)/.exec(message)?.[1] ?? 'arguments';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    return new UsageError(command, named, `unknown option for \`regprune ${command}\``);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(message)) return new UsageError(command, named, 'needs a value');
    return new UsageError(command, named, 'takes no value');
  }
  return new UsageError(command, named, message.split('\n')[0] ?? message);
}

/**
 * Parses the arguments after `regprune` (no node or script path). Pure: reads no files,
 * environment or network, so scripts (and the examples' tests) can check a command line.
 * @throws {UsageError} naming the bad argument.
 * @example
 * ```ts
 * parseCommandLine(['plan', 'oci:./layout', '--keep', 'latest']);
 * // → { kind: 'run', options: { command: 'plan', target: { kind: 'layout', dir: './layout' }, … } }
 * ```
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { kind: 'help' };
  if (first === '--version' || first === '-V') return { kind: 'version' };
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { kind: 'help' };
    if (!isCommand(topic)) {
      throw new UsageError(undefined, topic, `unknown command; use one of ${COMMANDS.join(', ')}`);
    }
    return { kind: 'help', command: topic };
  }
  if (!isCommand(first)) {
    const what = first.startsWith('-') ? 'unknown option' : 'unknown command';
    throw new UsageError(undefined, first, `${what}; use one of ${COMMANDS.join(', ')}`);
  }
  const command = first;
  // Refused before parsing, so `--password` without a value gets the reason too.
  if (rest.some((arg) => arg === '--password' || arg.startsWith('--password='))) {
    throw new UsageError(command, '--password', PASSWORD_REFUSED);
  }
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...rest],
      options: parserOptions(command),
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (error) {
    throw parseError(command, error);
  }
  const values = parsed.values;
  if (values.help) return { kind: 'help', command };
  if (command === 'restore') {
    return { kind: 'run', options: checkRestoreOptions(values, parsed.positionals) };
  }
  if (command === 'verify') {
    return { kind: 'run', options: checkVerifyOptions(values, parsed.positionals) };
  }
  return { kind: 'run', options: checkOptions(command, values, parsed.positionals) };
}

type Values = OptionValues;

/** Options only registries take, given with a layout target: one check for all of them. */
function checkRegistryOnly(command: CommandName, values: OptionValues, target: TargetSpec): void {
  if (target.kind !== 'layout') return;
  const given = registryOnlyGiven(command, values);
  if (given) {
    throw new UsageError(
      command,
      given.option,
      `applies to registry targets only; ${given.reason}`,
    );
  }
}

function checkOptions(
  command: PlanningCommand,
  values: Values,
  positionals: string[],
): PlanningOptions {
  const usage = (argument: string, problem: string) => new UsageError(command, argument, problem);
  if (values.password !== undefined) throw usage('--password', PASSWORD_REFUSED);
  const wanted = command === 'explain' ? 2 : 1;
  const [targetText, ref, extra] = [positionals[0], positionals[1], positionals[wanted]];
  if (targetText === undefined) throw usage('<target>', 'missing; e.g. oci:./layout or host:port');
  if (command === 'explain' && ref === undefined) {
    throw usage('<ref>', 'missing; name a tag, an image id or a digest to explain');
  }
  if (extra !== undefined) throw usage(extra, 'unexpected argument');
  const target = parseTarget(command, targetText);
  checkRegistryOnly(command, values, target);

  const format = checkFormat(command, values.format);

  const keep = values.keep ?? [];
  const policy = values.policy;
  const savedPlan = values.plan;
  if (savedPlan !== undefined) {
    if (savedPlan === '') throw usage('--plan', 'needs a file name');
    if (policy !== undefined || keep.length > 0) {
      throw usage(
        policy !== undefined ? '--policy' : '--keep',
        'cannot be combined with --plan: a saved plan is applied as it was reviewed (its policy or keep list is recorded in it)',
      );
    }
  }
  const protectFrom = values['protect-from'] ?? [];
  if (protectFrom.some((f) => f === '')) throw usage('--protect-from', 'needs a file name');
  if (protectFrom.length > 0 && savedPlan !== undefined) {
    throw usage(
      '--protect-from',
      'applies when planning; a saved plan (--plan) was made with the images in use then, so make it with --protect-from',
    );
  }
  const planSha256 = values['plan-sha256']?.replace(/^sha256:/, '').toLowerCase();
  if (planSha256 !== undefined) {
    if (savedPlan === undefined) throw usage('--plan-sha256', 'needs --plan FILE');
    if (!/^[a-f0-9]{64}$/.test(planSha256)) {
      throw usage('--plan-sha256', 'expects the 64 hex digits `sha256sum plan.json` prints');
    }
  }
  const drop = values.drop ?? [];
  if (drop.length > 0 && (policy !== undefined || keep.length > 0 || savedPlan !== undefined)) {
    throw usage(
      '--drop',
      `cannot be combined with ${policy !== undefined ? '--policy' : keep.length > 0 ? '--keep' : '--plan'}: --drop keeps every tag except the ones named`,
    );
  }
  for (const tag of drop) {
    if (tag === '') throw usage('--drop', 'needs a tag name');
    if (target.kind === 'registry' && !/^[^:@]+:[^:@/]+$/.test(tag)) {
      throw usage(
        '--drop',
        `${JSON.stringify(tag)}: registry tags are written repo:tag, e.g. team/app:pr-123`,
      );
    }
  }
  if (policy !== undefined && keep.length > 0) {
    throw usage(
      '--keep',
      'cannot be combined with --policy; add the tags to a rule\u2019s keepTags instead',
    );
  }
  if (policy === '') throw usage('--policy', 'needs a file name');
  if (
    command !== 'graph' &&
    policy === undefined &&
    keep.length === 0 &&
    drop.length === 0 &&
    savedPlan === undefined
  ) {
    throw usage(
      '--policy',
      `regprune ${command} needs --policy FILE, at least one --keep TAG or --drop TAG${command === 'apply' ? ' (or --plan FILE)' : ''}`,
    );
  }
  for (const tag of keep) {
    if (tag === '') throw usage('--keep', 'needs a tag name');
    if (target.kind === 'registry' && !/^[^:@]+:[^:@/]+$/.test(tag)) {
      throw usage(
        '--keep',
        `${JSON.stringify(tag)}: registry tags are written repo:tag, e.g. team/app:latest`,
      );
    }
  }

  const repos = values.repo ?? [];
  checkRepoGlobs(command, repos);
  if (repos.length > 0) {
    // Caught here, before any request: otherwise the tag would not be loaded and be reported as
    // unknown, although the cause is the selection.
    const selected = repoMatchers(repos);
    const outside = keep.filter((tag) => !selected(repositoryOfTag(tag)));
    if (outside.length > 0) {
      const names = [...new Set(outside.map(repositoryOfTag))].sort();
      throw usage(
        '--repo',
        `--keep ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} in ${names.join(', ')}, which no --repo value selects (${repos.map((r) => JSON.stringify(r)).join(', ')}); add --repo ${names[0]} or check the spelling`,
      );
    }
  }
  for (const name of ['storage', 'state'] as const) {
    const value = values[name];
    if (value === undefined) continue;
    if (value === '')
      throw usage(`--${name}`, name === 'storage' ? 'needs a directory' : 'needs a file name');
  }

  let now: Date | undefined;
  if (values.now !== undefined) {
    now = new Date(values.now);
    if (!/^\d{4}-\d{2}-\d{2}/.test(values.now) || Number.isNaN(now.getTime())) {
      throw usage(
        '--now',
        `${JSON.stringify(values.now)} is not an ISO 8601 date, e.g. 2024-06-01T00:00:00Z`,
      );
    }
  }

  const caps: { maxDeletions?: number; maxDeletionRatio?: number } = {};
  const maxText = values['max-deletions'];
  if (maxText !== undefined) {
    if (!/^\d+$/.test(maxText) || !Number.isSafeInteger(Number(maxText))) {
      throw usage('--max-deletions', `${JSON.stringify(maxText)} is not a whole number ≥ 0`);
    }
    caps.maxDeletions = Number(maxText);
  }
  const ratioText = values['max-deletion-ratio'];
  if (ratioText !== undefined) {
    const ratio = Number(ratioText);
    if (ratioText.trim() === '' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      throw usage(
        '--max-deletion-ratio',
        `${JSON.stringify(ratioText)} is not a fraction from 0 to 1 (e.g. 0.5 for half)`,
      );
    }
    caps.maxDeletionRatio = ratio;
  }
  if ((maxText !== undefined || ratioText !== undefined) && savedPlan !== undefined) {
    throw usage(
      maxText !== undefined ? '--max-deletions' : '--max-deletion-ratio',
      'applies when planning; a saved plan (--plan) was capped when it was made',
    );
  }

  const passwordStdin = values['password-stdin'] ?? false;
  if (values.username === '') throw usage('--username', 'needs a user name');
  if (values.journal === '') throw usage('--journal', 'needs a file name');

  return {
    command,
    target,
    targetText,
    ...(command === 'explain' && ref !== undefined ? { ref } : {}),
    ...(policy !== undefined ? { policy } : {}),
    keep,
    ...(drop.length > 0 ? { drop } : {}),
    ...(protectFrom.length > 0 ? { protectFrom } : {}),
    repos,
    ...(now ? { now } : {}),
    format,
    ...(values.username !== undefined ? { username: values.username } : {}),
    passwordStdin,
    dryRun: values['dry-run'] ?? false,
    yes: values.yes ?? false,
    ...(values.journal !== undefined ? { journal: values.journal } : {}),
    ...(values.storage !== undefined ? { storage: values.storage } : {}),
    ...(values.state !== undefined ? { state: values.state } : {}),
    ...(savedPlan !== undefined ? { plan: savedPlan } : {}),
    ...(planSha256 !== undefined ? { planSha256 } : {}),
    ...(values.verify ? { verify: true } : {}),
    ...(Object.keys(caps).length > 0 ? { caps } : {}),
    ...platformOf(command, values, target),
  };
}
