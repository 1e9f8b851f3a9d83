/**
 * Every command-line option in one table: the parser's configuration, the "registries only"
 * checks and the options part of each command's help are generated from it, so the three cannot
 * disagree.
 */
import type { CommandName } from './errors.js';

/** Where an option is listed in a command's help. */
export type OptionGroup = 'basis' | 'select' | 'apply' | 'output' | 'auth';

/** One option of the table. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Repeatable: the values are collected into a list. */
  multiple?: boolean;
  /** The value's placeholder in the help, e.g. `FILE`. */
  value?: string;
  /** The commands that accept it. */
  commands: readonly CommandName[];
  group: OptionGroup;
  /** Help text, one paragraph (wrapped when printed); per command where it differs. */
  help: string | Partial<Record<CommandName, string>>;
  /**
   * Accepted only with a registry target; given with a layout, it is a usage error saying
   * "applies to registry targets only; <this>".
   */
  registryOnly?: string;
  /** Accepted by the parser only to be refused with a reason; not shown in the help. */
  refused?: boolean;
}

const PLANNING = ['plan', 'apply', 'explain', 'graph'] as const satisfies readonly CommandName[];
const ALL = [...PLANNING, 'restore', 'verify'] as const satisfies readonly CommandName[];
const NO_REPOSITORIES = 'a layout has no repositories';
const ATOMIC = 'a layout is rewritten atomically';

/** The table. Its order is the order of the help. */
export const OPTIONS = {
  policy: {
    type: 'string',
    value: 'FILE',
    commands: PLANNING,
    group: 'basis',
    help: "retention policy (YAML or JSON; examples in the package's examples/policies/)",
  },
  keep: {
    type: 'string',
    multiple: true,
    value: 'TAG',
    commands: PLANNING,
    group: 'basis',
    help: 'keep this exact tag (repeatable; no globs). Registry tags are written repo:tag (e.g. team/app:latest), layout tags as named in index.json (e.g. latest). Use a policy for patterns.',
  },
  drop: {
    type: 'string',
    multiple: true,
    value: 'TAG',
    commands: PLANNING,
    group: 'basis',
    help: '"delete these": keep every tag except this exact one (repeatable; e.g. team/app:pr-123 when a pull request closes). Its image goes only if no other tag still needs it.',
  },
  'protect-from': {
    type: 'string',
    multiple: true,
    value: 'FILE',
    commands: PLANNING,
    group: 'basis',
    help: "images in use, which stay with all their tags whatever the plan says (repeatable): image references separated by spaces or lines, e.g. the output of kubectl get pods -A -o jsonpath='{..image} {..imageID}'. Tags resolve to the image they point at now; references to another registry host, or to images not here, are warnings.",
  },
  repo: {
    type: 'string',
    multiple: true,
    value: 'GLOB',
    commands: [...PLANNING, 'verify'],
    group: 'select',
    registryOnly: NO_REPOSITORIES,
    help: {
      plan: 'registry only: load only these repositories (repeatable; * and ? within a path segment, ** across segments). Default: the whole catalog.',
      verify:
        'check only these repositories (repeatable; * and ? within a path segment, ** across segments). Default: the whole catalog.',
    },
  },
  storage: {
    type: 'string',
    value: 'DIR',
    commands: PLANNING,
    group: 'select',
    registryOnly: 'a layout lists every image',
    help: "registry only: the registry's filesystem storage root (read only), to find untagged manifests the API cannot list",
  },
  state: {
    type: 'string',
    value: 'FILE',
    commands: PLANNING,
    group: 'select',
    registryOnly: 'a layout lists every image',
    help: 'registry only: remember the images seen in FILE, so the next run finds manifests that lost their tag since (any registry)',
  },
  now: {
    type: 'string',
    value: 'ISO-DATE',
    commands: PLANNING,
    group: 'select',
    help: 'the time policy ages are measured from (default: now)',
  },
  'max-deletions': {
    type: 'string',
    value: 'N',
    commands: PLANNING,
    group: 'select',
    help: "refuse the plan (exit 3, nothing applied) if it deletes more than N images (on top of a policy's own maxDeletions)",
  },
  'max-deletion-ratio': {
    type: 'string',
    value: 'R',
    commands: PLANNING,
    group: 'select',
    help: 'refuse it if it deletes more than R (0 to 1) of the images loaded',
  },
  plan: {
    type: 'string',
    value: 'FILE',
    commands: ['apply'],
    group: 'apply',
    help: "apply a saved plan ('regprune plan … --format json') instead of planning anew: it must have been made for this target; nothing outside it is done, and every deletion is re-checked against the target as it is now",
  },
  'plan-sha256': {
    type: 'string',
    value: 'HEX',
    commands: ['apply'],
    group: 'apply',
    help: 'refuse the --plan file unless its sha256 is HEX (pin the reviewed file when it passes through other hands)',
  },
  verify: {
    type: 'boolean',
    commands: ['apply'],
    group: 'apply',
    registryOnly: ATOMIC,
    help: "registry only: afterwards, check that every kept tag still pulls completely (as 'regprune verify' does); exit 1 if not",
  },
  'dry-run': {
    type: 'boolean',
    commands: ['apply', 'restore'],
    group: 'apply',
    // restore takes it only to refuse it with a reason, so its help does not list it.
    help: { apply: 'show what would be done (and the requests), change nothing' },
  },
  yes: {
    type: 'boolean',
    short: 'y',
    commands: ['apply'],
    group: 'apply',
    help: 'do not ask for confirmation (required without a terminal)',
  },
  journal: {
    type: 'string',
    value: 'FILE',
    commands: ['apply', 'restore'],
    group: 'apply',
    registryOnly: ATOMIC,
    help: {
      apply:
        "registry only: record each operation in FILE as it is done, so 'regprune restore' can undo the run. Run the same command again with the same FILE after Ctrl-C, a crash or a failure: it finishes what was left half done and appends a new run (a weekly job may keep one FILE). With REGPRUNE_JOURNAL_KEY set, its lines are chained with an HMAC of that key (needed to resume or restore; without it a plain hash chain)",
      restore: "the undo journal 'regprune apply --journal FILE' wrote (required)",
    },
  },
  'allow-other-registry': {
    type: 'boolean',
    commands: ['restore'],
    group: 'apply',
    help: 'restore a journal written for another registry (or naming none) into this one; refused without it',
  },
  format: {
    type: 'string',
    short: 'f',
    value: 'FORMAT',
    commands: ALL,
    group: 'output',
    help: {
      plan: 'table (default), json (the plan itself), or markdown (fits $GITHUB_STEP_SUMMARY)',
      apply: 'table (default), json ({ plan, result }), or markdown',
      explain: 'text (default) or json',
      graph: 'mermaid (default), dot (Graphviz), or json',
      restore: 'table (default), or json (the restore result: manifests, tags, notes)',
      verify: 'table (default), json (the VerifyReport), or markdown',
    },
  },
  help: {
    type: 'boolean',
    short: 'h',
    commands: ALL,
    group: 'output',
    help: 'show this help',
  },
  username: {
    type: 'string',
    value: 'NAME',
    commands: ALL,
    group: 'auth',
    registryOnly: 'a layout needs no credentials',
    help: 'user name for the registry',
  },
  'password-stdin': {
    type: 'boolean',
    commands: ALL,
    group: 'auth',
    registryOnly: 'a layout needs no credentials',
    help: 'read the password (or token) from standard input',
  },
  password: {
    type: 'string',
    commands: ALL,
    group: 'auth',
    refused: true,
    help: 'refused: use --password-stdin',
  },
  platform: {
    type: 'string',
    value: 'ghcr|none',
    commands: ALL,
    group: 'auth',
    registryOnly: 'a layout has no platform API',
    help: "use GitHub's Packages API (the default for ghcr.io: every version, untagged ones too, is listed, deleted and restored through it) or the OCI API alone",
  },
  'platform-api': {
    type: 'string',
    value: 'URL',
    commands: ALL,
    group: 'auth',
    registryOnly: 'a layout has no platform API',
    help: 'GitHub API base (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)',
  },
  'api-rps': {
    type: 'string',
    value: 'N',
    commands: ALL,
    group: 'auth',
    registryOnly: 'a layout has no platform API',
    help: "at most N GitHub API requests per second (default: no cap; GitHub's rate limits are waited out either way)",
  },
} as const satisfies Record<string, OptionSpec>;

/** An option's long name. */
export type OptionName = keyof typeof OPTIONS;

/** The parsed values of a command line, typed from the table. */
export type OptionValues = {
  -readonly [K in OptionName]?: (typeof OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof OPTIONS)[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

type ParseArgsOption = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

const entries = Object.entries(OPTIONS) as [OptionName, OptionSpec][];

/** `node:util` parseArgs' `options` for one command: exactly the table's options of it. */
export function parserOptions(command: CommandName): Record<string, ParseArgsOption> {
  const config: Record<string, ParseArgsOption> = {};
  for (const [name, spec] of entries) {
    if (!spec.commands.includes(command)) continue;
    config[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  return config;
}

/**
 * The first option given that only registries accept, for a layout target: its name and the
 * reason, for the usage error.
 */
export function registryOnlyGiven(
  command: CommandName,
  values: OptionValues,
): { option: string; reason: string } | undefined {
  for (const [name, spec] of entries) {
    if (spec.registryOnly === undefined || !spec.commands.includes(command)) continue;
    const value = values[name];
    const given = Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
    if (given) return { option: `--${name}`, reason: spec.registryOnly };
  }
  return undefined;
}

const HELP_WIDTH = 84;
const COLUMN = 23;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

function helpOf(spec: OptionSpec, command: CommandName): string | undefined {
  if (typeof spec.help === 'string') return spec.help;
  // A command without its own text takes the planning commands' (`plan`'s) one.
  return spec.help[command] ?? (PLANNING.includes(command as 'plan') ? spec.help.plan : undefined);
}

/** The help lines of a command's options of some groups, in table order. */
export function optionsHelp(command: CommandName, groups: readonly OptionGroup[]): string {
  const out: string[] = [];
  for (const [name, spec] of entries) {
    if (spec.refused || !spec.commands.includes(command) || !groups.includes(spec.group)) continue;
    const text = helpOf(spec, command);
    if (text === undefined) continue;
    const flag = `  ${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    const body = wrap(text, HELP_WIDTH - COLUMN);
    const pad = ' '.repeat(COLUMN);
    if (flag.length >= COLUMN - 1) out.push(flag, ...body.map((l) => pad + l));
    else out.push(flag.padEnd(COLUMN) + (body[0] ?? ''), ...body.slice(1).map((l) => pad + l));
  }
  return out.join('\n');
}
