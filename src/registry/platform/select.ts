import type { RegistryCredentials } from '../auth/credentials.js';
import { GhcrPlatform, type GhcrPlatformOptions } from './ghcr.js';
import type { RegistryPlatform } from './types.js';

/**
 * The `platform` option of `RegistryClient`: a platform object, `{ kind: 'ghcr', … }` for GitHub
 * Enterprise Server or a test server, or `'none'` to use the OCI API alone.
 */
export type PlatformOption = RegistryPlatform | ({ kind: 'ghcr' } & GhcrPlatformOptions) | 'none';

/** Hosts of the GitHub Container Registry, where the GitHub Packages API is used by default. */
export const GHCR_HOSTS: ReadonlySet<string> = new Set(['ghcr.io']);

/**
 * The platform a client of `host` consults: the given one, GHCR for `ghcr.io` (token: the
 * credentials' password; `fetch`: the client's, so its `ca` and `fetch` options apply), or none.
 */
export function platformFor(
  host: string,
  option: PlatformOption | undefined,
  auth: RegistryCredentials | undefined,
  fetch?: typeof globalThis.fetch,
): RegistryPlatform | undefined {
  if (option === 'none') return undefined;
  if (option && !('kind' in option)) return option;
  if (!option && !GHCR_HOSTS.has(host.toLowerCase())) return undefined;
  const token = auth && 'password' in auth ? auth.password : undefined;
  const { kind: _kind, ...rest } = option ?? { kind: 'ghcr' as const };
  return new GhcrPlatform({ ...(token ? { token } : {}), ...(fetch ? { fetch } : {}), ...rest });
}
