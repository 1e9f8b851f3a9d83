import type { RegistryCredentials } from '../registry/auth/credentials.js';
import { credentialsFromDockerConfig } from '../registry/auth/docker-config.js';
import type { BaseOptions } from './args.js';
import { type CommandName, UsageError } from './errors.js';
import { type CliIo, readAll } from './io.js';
import { usesGhcr } from './platform-options.js';

/**
 * Where the credentials of a command came from, by its io: an access refusal can then say which
 * credentials were refused (the secret itself is never kept here).
 */
export const credentialSources = new WeakMap<CliIo, string>();

/**
 * The credentials for a registry target, first found wins:
 * 1. `--username` with `--password-stdin` (the password is the first line of standard input);
 * 2. `REGPRUNE_USERNAME` and `REGPRUNE_PASSWORD` (`--username` overrides the user name);
 * 3. Docker's config for the host (`credHelpers`, `auths`, `credsStore`).
 * `undefined` means anonymous. The secret is handed to the client and never printed.
 * @throws {UsageError} when only half of a pair is given.
 */
export async function resolveCredentials(
  options: BaseOptions & { command: CommandName },
  host: string,
  io: CliIo,
): Promise<RegistryCredentials | undefined> {
  const { command } = options;
  const envUser = io.env.REGPRUNE_USERNAME || undefined;
  const envPassword = io.env.REGPRUNE_PASSWORD || undefined;
  if (options.passwordStdin) {
    const username = options.username ?? envUser;
    if (username === undefined) {
      throw new UsageError(
        command,
        '--password-stdin',
        'needs --username NAME (or REGPRUNE_USERNAME) to go with the password',
      );
    }
    // One line: `echo "$TOKEN" |` adds a line end that is not part of the password.
    const password = (await readAll(io)).split(/\r?\n/)[0] ?? '';
    if (password === '') {
      throw new UsageError(command, '--password-stdin', 'standard input held no password');
    }
    credentialSources.set(io, `--username ${username} with --password-stdin`);
    return { username, password };
  }
  if (envPassword !== undefined) {
    const username = options.username ?? envUser;
    if (username === undefined) {
      throw new UsageError(
        command,
        'REGPRUNE_PASSWORD',
        'is set but no user name is: set REGPRUNE_USERNAME or pass --username',
      );
    }
    credentialSources.set(
      io,
      `user ${username} (${options.username !== undefined ? '--username' : 'REGPRUNE_USERNAME'}) with REGPRUNE_PASSWORD`,
    );
    return { username, password: envPassword };
  }
  // GitHub Actions (and GitHub CLI users) hold the token in GITHUB_TOKEN; ghcr.io's token service
  // and the Packages API both take it (the user name is not checked for a token; the actor's is sent).
  const githubToken = io.env.GITHUB_TOKEN || undefined;
  if (githubToken !== undefined && usesGhcr(options.platform, host)) {
    const username = options.username ?? io.env.GITHUB_ACTOR ?? 'regprune';
    credentialSources.set(io, `user ${username} with GITHUB_TOKEN`);
    return { username, password: githubToken };
  }
  if (options.username !== undefined) {
    throw new UsageError(
      command,
      '--username',
      'needs a password: pass --password-stdin, or set REGPRUNE_PASSWORD',
    );
  }
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(io.env)) if (value !== undefined) env[key] = value;
  const dockerPath = env.DOCKER_CONFIG
    ? `${env.DOCKER_CONFIG}/config.json`
    : env.HOME
      ? `${env.HOME}/.docker/config.json`
      : undefined;
  const found = await credentialsFromDockerConfig(host, {
    env,
    ...(dockerPath ? { path: dockerPath } : {}),
  });
  credentialSources.set(
    io,
    found ? `Docker's config for ${host} (${dockerPath ?? 'config.json'})` : 'none (anonymous)',
  );
  return found;
}
