import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DockerConfigError } from '../errors/docker-config-error.js';
import type { RegistryCredentials } from './credentials.js';

/** Options of {@link credentialsFromDockerConfig}. */
export interface DockerConfigOptions {
  /** Path of `config.json`. Default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  path?: string;
  /** Environment for credential helpers (default `process.env`, whose `PATH` finds them). */
  env?: NodeJS.ProcessEnv;
  /**
   * Milliseconds a credential helper may take to answer; then it is killed (SIGKILL) and the call
   * rejects with a {@link DockerConfigError}. Default 30 000.
   */
  helperTimeout?: number;
}

function hostOf(key: string): string {
  try {
    return key.includes('://') ? new URL(key).host : (key.split('/')[0] as string);
  } catch {
    return key;
  }
}

/** Default of {@link DockerConfigOptions.helperTimeout}. */
const HELPER_TIMEOUT = 30_000;
/** A helper's answer is one small JSON object; more than this is not one. */
const HELPER_OUTPUT_LIMIT = 1024 * 1024;
/** What a helper may print on stderr that is kept (only to spot "not found"). */
const HELPER_STDERR_LIMIT = 16 * 1024;

function runHelper(
  name: string,
  host: string,
  options: { env: NodeJS.ProcessEnv; path: string; timeout: number },
): Promise<RegistryCredentials | undefined> {
  const command = `docker-credential-${name}`;
  const { path } = options;
  return new Promise((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutSize = 0;
    let stderrSize = 0;
    let settled = false;
    const child = spawn(command, ['get'], {
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // SIGKILL, not SIGTERM: a helper may ignore SIGTERM, and then nothing would ever end it.
    const timer = setTimeout(
      () => fail(`no answer within ${options.timeout} ms; it was killed`),
      options.timeout,
    );
    function finish(): void {
      settled = true;
      clearTimeout(timer);
      // A grandchild (`sleep` in a shell script) may hold the pipes open after the helper is
      // gone; regprune does not wait for it.
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin.destroy();
    }
    function fail(problem: string): void {
      if (settled) return;
      finish();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new DockerConfigError(path, `${command} get for ${host}: ${problem}`));
    }
    child.on('error', (error: NodeJS.ErrnoException) =>
      fail(
        error.code === 'ENOENT'
          ? 'not found on PATH; install it or remove it from the config'
          : `cannot run it (${error.code ?? error.message})`,
      ),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutSize += chunk.length;
      if (stdoutSize > HELPER_OUTPUT_LIMIT) {
        fail(
          `answered more than ${HELPER_OUTPUT_LIMIT / 1024 / 1024} MiB; a credential is far smaller`,
        );
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrSize >= HELPER_STDERR_LIMIT) return;
      stderrSize += chunk.length;
      stderr.push(chunk);
    });
    // A helper may exit without reading the host (EPIPE): its exit code and output decide.
    child.stdin.on('error', () => {});
    child.on('exit', (code, signal) => {
      if (settled) return;
      // Output still in the pipes arrives before 'close'; wait for it, but not for grandchildren.
      const done = () => {
        if (settled) return;
        finish();
        const out = Buffer.concat(stdout).toString('utf8');
        const err = Buffer.concat(stderr).toString('utf8');
        if (code !== 0) {
          // Helpers exit non-zero with "credentials not found" for unknown hosts.
          if (/not found/i.test(out) || /not found/i.test(err)) {
            resolve(undefined);
            return;
          }
          reject(
            new DockerConfigError(
              path,
              `${command} get failed for ${host} (${signal ? `signal ${signal}` : `exit ${String(code)}`})`,
            ),
          );
          return;
        }
        let answer: { Username?: unknown; Secret?: unknown };
        try {
          answer = JSON.parse(out) as { Username?: unknown; Secret?: unknown };
        } catch {
          // The output is not quoted: it may be a secret in another format.
          reject(new DockerConfigError(path, `${command} answered something that is not JSON`));
          return;
        }
        if (typeof answer?.Secret !== 'string' || answer.Secret === '') resolve(undefined);
        else if (answer.Username === '<token>') resolve({ identityToken: answer.Secret });
        else
          resolve({
            username: typeof answer.Username === 'string' ? answer.Username : '',
            password: answer.Secret,
          });
      };
      let open = 2;
      const closed = () => {
        open -= 1;
        if (open === 0) done();
      };
      if (child.stdout.readableEnded || child.stdout.destroyed) closed();
      else child.stdout.once('close', closed);
      if (child.stderr.readableEnded || child.stderr.destroyed) closed();
      else child.stderr.once('close', closed);
      // The pipes stay open while a grandchild holds them; the helper itself has answered.
      setTimeout(done, 1_000).unref();
    });
    child.stdin.end(host);
  });
}

/**
 * Credentials for `host` (e.g. `registry.example.com:5000`) from Docker's `config.json`:
 * `credHelpers[host]`, then `auths[host]` (`auth` = base64 `user:password`, or `identitytoken`),
 * then `credsStore`; helpers run as `docker-credential-<name> get` with the host on stdin.
 * `undefined` when nothing matches, the file does not exist, or the helper exits non-zero saying
 * "not found" (how helpers answer for an unknown host): the registry is then used anonymously.
 * Every other helper failure rejects, never crashes or hangs: a helper that exits early, fails,
 * answers more than 1 MiB, answers something that is not JSON, or takes longer than
 * `helperTimeout` (it is then killed with SIGKILL). What the helper printed is never put in the
 * message.
 * @throws {DockerConfigError} when the file is malformed or a helper fails as above.
 */
export async function credentialsFromDockerConfig(
  host: string,
  options: DockerConfigOptions = {},
): Promise<RegistryCredentials | undefined> {
  const env = options.env ?? process.env;
  const path = options.path ?? join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DockerConfigError(path, `cannot read it (${(error as Error).message})`);
  }
  let config: {
    auths?: Record<
      string,
      { auth?: string; identitytoken?: string; username?: string; password?: string }
    >;
    credHelpers?: Record<string, string>;
    credsStore?: string;
  };
  try {
    config = JSON.parse(text);
  } catch {
    throw new DockerConfigError(path, 'not valid JSON');
  }
  const helperOptions = { env, path, timeout: options.helperTimeout ?? HELPER_TIMEOUT };
  const helper = Object.entries(config.credHelpers ?? {}).find(
    ([key]) => hostOf(key) === host,
  )?.[1];
  if (helper) return runHelper(helper, host, helperOptions);
  const entry = Object.entries(config.auths ?? {}).find(([key]) => hostOf(key) === host)?.[1];
  if (entry) {
    if (entry.identitytoken) return { identityToken: entry.identitytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0)
        throw new DockerConfigError(
          path,
          `auths[${JSON.stringify(host)}].auth is not base64 of user:password`,
        );
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password)
      return { username: entry.username, password: entry.password };
  }
  if (config.credsStore) return runHelper(config.credsStore, host, helperOptions);
  return undefined;
}
