/** The parsed options of each command: one type per command, and the checks they share. */
import type { CommandName } from './errors.js';
import { UsageError } from './errors.js';
import type { OptionValues } from './options.js';
import { type CliPlatform, checkPlatformOptions } from './platform-options.js';
import type { TargetSpec } from './target-spec.js';

/** The output formats each command accepts; the first is the default. */
export const FORMATS = {
  plan: ['table', 'json', 'markdown'],
  apply: ['table', 'json', 'markdown'],
  explain: ['text', 'json'],
  graph: ['mermaid', 'dot', 'json'],
  restore: ['table', 'json'],
  verify: ['table', 'json', 'markdown'],
} as const satisfies Record<CommandName, readonly string[]>;

/** A format of one of the commands. */
export type OutputFormat = (typeof FORMATS)[CommandName][number];

/** A registry target. */
export type RegistrySpec = Extract<TargetSpec, { kind: 'registry' }>;

/** What every command's options hold: where, how to print, and credentials. */
export interface BaseOptions {
  /** `<target>` as written (for messages). */
  targetText: string;
  format: OutputFormat;
  username?: string;
  passwordStdin: boolean;
  /** `--platform`, `--platform-api`, `--api-rps`: the registry's platform API (GHCR). */
  platform?: CliPlatform;
}

/** The commands that load a target and plan. */
export type PlanningCommand = 'plan' | 'apply' | 'explain' | 'graph';

/** `plan`, `apply`, `explain` and `graph`. */
export interface PlanningOptions extends BaseOptions {
  command: PlanningCommand;
  target: TargetSpec;
  /** `explain`'s `<ref>`. */
  ref?: string;
  policy?: string;
  keep: string[];
  /** `--drop`: tags to remove ("keep every tag except these"). */
  drop?: string[];
  /** `--protect-from`: files listing image references in use, which every plan keeps. */
  protectFrom?: string[];
  repos: string[];
  /** `--now`; `undefined` means the current time. */
  now?: Date;
  dryRun: boolean;
  yes: boolean;
  /** `apply --journal`: the undo journal the run records each operation in. */
  journal?: string;
  /** `--storage`: the registry's filesystem storage root, read for untagged manifests. */
  storage?: string;
  /** `--state`: the inventory file that remembers images between runs. */
  state?: string;
  /** `apply --plan`: a saved plan (`plan --format json`) to apply instead of planning anew. */
  plan?: string;
  /** `apply --plan-sha256`: the reviewed plan file's sha256 (hex); another file is refused. */
  planSha256?: string;
  /** `apply --verify`: after applying, check that every kept tag still pulls completely. */
  verify?: boolean;
  /** `--max-deletions` / `--max-deletion-ratio`: caps on top of any policy's own. */
  caps?: { maxDeletions?: number; maxDeletionRatio?: number };
}

/** `restore <registry> --journal FILE`. */
export interface RestoreOptions extends BaseOptions {
  command: 'restore';
  target: RegistrySpec;
  /** The undo journal `apply --journal` wrote. */
  journal: string;
  /** `--allow-other-registry`: replay a journal written for another registry. */
  allowOtherRegistry: boolean;
}

/** `verify <registry> [--repo GLOB…]`. */
export interface VerifyOptions extends BaseOptions {
  command: 'verify';
  target: RegistrySpec;
  repos: string[];
}

/** A parsed command line of one command. */
export type CommandOptions = PlanningOptions | RestoreOptions | VerifyOptions;

/** `--format`, checked against the command's formats; the first is the default. */
export function checkFormat(command: CommandName, value: string | undefined): OutputFormat {
  const formats: readonly string[] = FORMATS[command];
  const format = value ?? formats[0];
  if (format === undefined || !formats.includes(format)) {
    throw new UsageError(
      command,
      '--format',
      `${JSON.stringify(format)} is not one of ${formats.join(', ')}`,
    );
  }
  return format as OutputFormat;
}

/** The platform options, checked, as a field to spread into the options. */
export function platformOf(
  command: CommandName,
  values: OptionValues,
  target: TargetSpec,
): { platform?: CliPlatform } {
  const platform = checkPlatformOptions(command, values, target);
  return platform ? { platform } : {};
}
