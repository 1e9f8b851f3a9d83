import type { PlatformOption } from '../registry/platform/select.js';
import { GHCR_HOSTS } from '../registry/platform/select.js';
import type { CommandName } from './errors.js';
import { UsageError } from './errors.js';
import type { TargetSpec } from './target-spec.js';

/** `--platform`, `--platform-api`, `--api-rps` as the command line gave them. */
export interface PlatformValues {
  platform?: string | undefined;
  'platform-api'?: string | undefined;
  'api-rps'?: string | undefined;
}

/** The command line's platform choice; `undefined` leaves it to the client (ghcr.io: GHCR). */
export interface CliPlatform {
  kind: 'ghcr' | 'none';
  apiUrl?: string;
  requestsPerSecond?: number;
}

/**
 * Checks the platform options: `--platform ghcr|none`, `--platform-api URL` (GitHub Enterprise
 * Server: `https://HOST/api/v3`), `--api-rps N`.
 * @throws {UsageError} naming the bad option.
 */
export function checkPlatformOptions(
  command: CommandName,
  values: PlatformValues,
  target: TargetSpec,
): CliPlatform | undefined {
  const usage = (argument: string, problem: string) => new UsageError(command, argument, problem);
  const kind = values.platform;
  const api = values['platform-api'];
  const rps = values['api-rps'];
  if (kind === undefined && api === undefined && rps === undefined) return undefined;
  const given =
    kind !== undefined ? '--platform' : api !== undefined ? '--platform-api' : '--api-rps';
  if (target.kind === 'layout') throw usage(given, 'applies to registry targets only');
  if (kind !== undefined && kind !== 'ghcr' && kind !== 'none')
    throw usage('--platform', `${JSON.stringify(kind)} is not one of ghcr, none`);
  const ghcrHost = GHCR_HOSTS.has(target.host.toLowerCase());
  if (kind === undefined && !ghcrHost)
    throw usage(given, `${target.host} has no platform API by default; add --platform ghcr`);
  if (kind === 'none' && (api !== undefined || rps !== undefined))
    throw usage(given, 'does not go with --platform none');
  const out: CliPlatform = { kind: kind === 'none' ? 'none' : 'ghcr' };
  if (api !== undefined) {
    let url: URL;
    try {
      url = new URL(api);
    } catch {
      throw usage(
        '--platform-api',
        `${JSON.stringify(api)} is not a URL, e.g. https://github.example.com/api/v3`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw usage('--platform-api', `${JSON.stringify(api)} is not an http(s) URL`);
    out.apiUrl = api;
  }
  if (rps !== undefined) {
    const n = Number(rps);
    if (rps.trim() === '' || !Number.isFinite(n) || n <= 0)
      throw usage(
        '--api-rps',
        `${JSON.stringify(rps)} is not a number above 0 (requests per second)`,
      );
    out.requestsPerSecond = n;
  }
  return out;
}

/** The `platform` option of `RegistryClient` for the command line's choice. */
export function clientPlatform(platform: CliPlatform | undefined): PlatformOption | undefined {
  if (!platform) return undefined;
  if (platform.kind === 'none') return 'none';
  return {
    kind: 'ghcr',
    ...(platform.apiUrl !== undefined ? { apiUrl: platform.apiUrl } : {}),
    ...(platform.requestsPerSecond !== undefined
      ? { requestsPerSecond: platform.requestsPerSecond }
      : {}),
  };
}

/** Whether the target is cleaned through GHCR's Packages API (by host or by option). */
export function usesGhcr(platform: CliPlatform | undefined, host: string): boolean {
  if (platform) return platform.kind === 'ghcr';
  return GHCR_HOSTS.has(host.toLowerCase());
}
