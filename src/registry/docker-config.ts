import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RegistryCredentials } from './auth.js';
import { DockerConfigError } from './errors/docker-config-error.js';

/** Options of {@link credentialsFromDockerConfig}. */
export interface DockerConfigOptions {
  /** Path of `config.json`. Default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  path?: string;
  /** Environment for credential helpers (default `process.env`, whose `PATH` finds them). */
  env?: NodeJS.ProcessEnv;
}

function hostOf(key: string): string {
  try {
    return key.includes('://') ? new URL(key).host : (key.split('/')[0] as string);
  } catch {
    return key;
  }
}

function runHelper(
  name: string,
  host: string,
  env: NodeJS.ProcessEnv,
  path: string,
): Promise<RegistryCredentials | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      `docker-credential-${name}`,
      ['get'],
      { env, timeout: 30_000 },
      (error, stdout) => {
        if (error) {
          // Helpers exit non-zero with "credentials not found" for unknown hosts.
          if (/not found/i.test(String(stdout)) || /not found/i.test(error.message)) {
            resolve(undefined);
            return;
          }
          reject(
            new DockerConfigError(
              path,
              `docker-credential-${name} get failed for ${host} (exit ${String(error.code)})`,
            ),
          );
          return;
        }
        try {
          const answer = JSON.parse(stdout) as { Username?: string; Secret?: string };
          if (typeof answer.Secret !== 'string' || answer.Secret === '') resolve(undefined);
          else if (answer.Username === '<token>') resolve({ identityToken: answer.Secret });
          else resolve({ username: answer.Username ?? '', password: answer.Secret });
        } catch {
          reject(
            new DockerConfigError(
              path,
              `docker-credential-${name} answered something that is not JSON`,
            ),
          );
        }
      },
    );
    child.stdin?.end(host);
  });
}

/**
 * Credentials for `host` (e.g. `registry.example.com:5000`) from Docker's `config.json`:
 * `credHelpers[host]`, then `auths[host]` (`auth` = base64 `user:password`, or `identitytoken`),
 * then `credsStore`; helpers run as `docker-credential-<name> get` with the host on stdin.
 * `undefined` when nothing matches or the file does not exist.
 * @throws {DockerConfigError} when the file or a helper's answer is malformed.
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
  const helper = Object.entries(config.credHelpers ?? {}).find(
    ([key]) => hostOf(key) === host,
  )?.[1];
  if (helper) return runHelper(helper, host, env, path);
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
  if (config.credsStore) return runHelper(config.credsStore, host, env, path);
  return undefined;
}
