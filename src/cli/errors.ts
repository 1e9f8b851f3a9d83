import { RegpruneError } from '../core/errors/regprune-error.js';

/** The commands of the CLI. */
export type CommandName = 'plan' | 'apply' | 'explain' | 'graph' | 'restore' | 'verify';

/**
 * A bad command line: an unknown option, a missing or malformed argument, options that do not go
 * together. The message names the offending argument; the CLI prints the command's help after it
 * and exits with code 2.
 */
export class UsageError extends RegpruneError {
  /** The command whose help fits, or `undefined` for the top-level help. */
  readonly command: CommandName | undefined;
  /** The offending argument as written, e.g. `--format` or `<target>`. */
  readonly argument: string;

  constructor(command: CommandName | undefined, argument: string, problem: string) {
    super('USAGE', `${argument}: ${problem}`);
    this.command = command;
    this.argument = argument;
  }
}

/** A file named on the command line (a policy, a journal) cannot be read or is not valid. */
export class CliFileError extends RegpruneError {
  /** The file as named on the command line. */
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super('CLI_FILE', `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** The person at the terminal did not confirm `apply`; nothing was changed. */
export class NotConfirmedError extends RegpruneError {
  constructor() {
    super('NOT_CONFIRMED', 'not confirmed; nothing was changed (pass --yes to skip the question)');
  }
}

/** `explain`'s `<ref>` names no tag or image of the target, or several different images. */
export class UnknownRefError extends RegpruneError {
  /** The reference as written. */
  readonly ref: string;

  constructor(ref: string, problem: string) {
    super('UNKNOWN_REF', `${ref}: ${problem}`);
    this.ref = ref;
  }
}
