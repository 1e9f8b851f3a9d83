/** Where the CLI reads and writes. `runCli` takes one, so tests can run the CLI in-process. */
export interface CliIo {
  /** Machine output (plans, graphs, results). */
  stdout: (text: string) => void;
  /** Messages, prompts and progress. */
  stderr: (text: string) => void;
  /** Standard input, read for `--password-stdin` and for the confirmation of `apply`. */
  stdin: AsyncIterable<string | Uint8Array>;
  /** Environment variables (`REGPRUNE_USERNAME`, `REGPRUNE_PASSWORD`, `DOCKER_CONFIG`, `HOME`…). */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether standard input is a terminal: `apply` asks for confirmation only then. */
  stdinIsTTY: boolean;
  /** Whether standard error is a terminal: progress is drawn only then. */
  stderrIsTTY: boolean;
  /** The terminal's width when standard error is one (progress lines are cut to fit). */
  stderrColumns?: number;
  /** Directory relative paths (`--policy`, `oci:DIR`) are resolved against. */
  cwd: string;
  /**
   * Subscribes `listener` to interrupts (Ctrl-C: SIGINT) while `apply` runs; returns what
   * unsubscribes. Absent: interrupts are left to their default (in-process runs).
   */
  onInterrupt?: (listener: () => void) => () => void;
  /** Ends the process at once with `code` (a second Ctrl-C during `apply`). */
  exitNow?: (code: number) => void;
  /** The command line (after `regprune`); `runCli` sets it, `apply` prints it to continue. */
  commandLine?: readonly string[];
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdin: process.stdin,
    env: process.env,
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    ...(process.stderr.columns ? { stderrColumns: process.stderr.columns } : {}),
    cwd: process.cwd(),
    onInterrupt: (listener) => {
      process.on('SIGINT', listener);
      return () => {
        process.off('SIGINT', listener);
      };
    },
    exitNow: (code) => process.exit(code),
  };
}

function text(chunk: string | Uint8Array): string {
  return typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
}

/** All of standard input. */
export async function readAll(io: CliIo): Promise<string> {
  let all = '';
  for await (const chunk of io.stdin) all += text(chunk);
  return all;
}

/** The first line of standard input, without its line end; `null` at end of input. */
export async function readLine(io: CliIo): Promise<string | null> {
  let line = '';
  for await (const chunk of io.stdin) {
    line += text(chunk);
    const end = line.indexOf('\n');
    if (end >= 0) return line.slice(0, end).replace(/\r$/, '');
  }
  return line === '' ? null : line;
}
