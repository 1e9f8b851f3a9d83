import { redactCredentials } from '../core/errors/redact.js';
import { RegpruneError } from '../core/errors/regprune-error.js';
import { AuthError } from '../registry/errors/auth-error.js';
import { type CommandOptions, type PlanningOptions, parseCommandLine } from './args.js';
import { applyCommand } from './commands/apply.js';
import { explainCommand } from './commands/explain.js';
import { graphCommand } from './commands/graph.js';
import { planCommand } from './commands/plan.js';
import { restoreCommand } from './commands/restore.js';
import { verifyCommand } from './commands/verify.js';
import { credentialSources } from './credentials.js';
import { UsageError } from './errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { helpText } from './help.js';
import { type CliIo, processIo } from './io.js';
import { packageVersion } from './version.js';

const PLANNING = {
  plan: planCommand,
  apply: applyCommand,
  explain: explainCommand,
  graph: graphCommand,
} satisfies Record<
  PlanningOptions['command'],
  (o: PlanningOptions, io: CliIo) => Promise<ExitCode>
>;

/** Runs the command with its own options type. */
function runCommand(options: CommandOptions, io: CliIo): Promise<ExitCode> {
  if (options.command === 'restore') return restoreCommand(options, io);
  if (options.command === 'verify') return verifyCommand(options, io);
  return PLANNING[options.command](options, io);
}

/**
 * Runs the `regprune` command line `argv` (the arguments after `regprune`) and resolves to its exit
 * code (see {@link EXIT}); it never calls `process.exit`. Machine output goes to `io.stdout`,
 * messages, prompts and progress to `io.stderr`, with any `user:password@` of a URL in them
 * replaced by `***`.
 * @example
 * ```ts
 * const code = await runCli(['plan', 'oci:./layout', '--keep', 'latest', '--format', 'json']);
 * ```
 */
export async function runCli(
  argv: readonly string[],
  given: CliIo = processIo(),
): Promise<ExitCode> {
  // Messages quote arguments, URLs from the registry and errors of other libraries (Node's URL
  // errors quote their input): whatever they hold, a login written into a URL is not printed.
  const io: CliIo = {
    ...given,
    stderr: (text) => given.stderr(redactCredentials(text)),
    commandLine: given.commandLine ?? argv,
  };
  try {
    const line = parseCommandLine(argv);
    if (line.kind === 'help') {
      io.stdout(helpText(line.command));
      return EXIT.ok;
    }
    if (line.kind === 'version') {
      io.stdout(`${packageVersion()}\n`);
      return EXIT.ok;
    }
    return await runCommand(line.options, io);
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): ExitCode {
  if (error instanceof UsageError) {
    // The error and where the help is, not forty lines of help that push the error off screen.
    const help = error.command ? `regprune ${error.command} --help` : 'regprune --help';
    io.stderr(`error: ${error.message}\nRun \`${help}\` for the options and examples.\n`);
    return EXIT.usage;
  }
  if (error instanceof RegpruneError) {
    io.stderr(`error: ${error.message}\n`);
    const source = credentialSources.get(io);
    if (error instanceof AuthError && (error.status === 401 || error.status === 403) && source) {
      io.stderr(
        source === 'none (anonymous)'
          ? 'No credentials were given: pass --username with --password-stdin, set REGPRUNE_USERNAME and REGPRUNE_PASSWORD, or log in with Docker.\n'
          : `The credentials used came from ${source}; check them (or that the account may do this).\n`,
      );
    }
    return error.code === 'PLAN_REFUSED' ? EXIT.refused : EXIT.error;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`error: ${message}\n`);
  if (io.env.REGPRUNE_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
  return EXIT.error;
}
