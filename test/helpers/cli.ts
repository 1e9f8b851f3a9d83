/**
 * Runs the regprune CLI the way users do: a child process (`node --import tsx src/cli/main.ts`),
 * or in-process through `runCli` with captured streams.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_MAIN = join(ROOT, 'src/cli/main.ts');
/** tsx's loader by absolute URL, so a child process may run in any working directory. */
export const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** An environment without the caller's registry credentials or Docker config. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_OPTIONS']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  env.DOCKER_CONFIG = join(ROOT, '.no-docker-config');
  return { ...env, ...extra };
}

/** `regprune ARGS` as a child process; `input` is written to its standard input (then closed). */
export function runCliProcess(
  args: string[],
  options: { env?: Record<string, string>; input?: string; cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_MAIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** `runCli` in-process with captured output; `stdin` yields the given chunks. */
export async function runCliInProcess(
  args: string[],
  options: {
    env?: Record<string, string>;
    stdin?: AsyncIterable<string>;
    stdinIsTTY?: boolean;
    stderrIsTTY?: boolean;
    cwd?: string;
  } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stdin: options.stdin ?? (async function* () {})(),
    env: options.env ?? cleanEnv(),
    stdinIsTTY: options.stdinIsTTY ?? false,
    stderrIsTTY: options.stderrIsTTY ?? false,
    cwd: options.cwd ?? ROOT,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}
