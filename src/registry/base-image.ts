import { isRepositoryName } from './reference.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const DEFAULT_PORTS = new Set(['', '80', '443']);

/**
 * `host:port` in one spelling per registry: lower case, every loopback name (`localhost`,
 * `127.0.0.1`, `[::1]`) as one, no port for the default ones (80, 443, none).
 */
export function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  // `name[:port]`, the name bracketed when it is an IPv6 address; anything else is kept whole.
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(lower);
  const name = match ? (match[1] as string) : lower;
  const port = match?.[2] ?? '';
  const canonical = LOOPBACK.has(name) ? 'loopback' : name;
  return DEFAULT_PORTS.has(port) ? canonical : `${canonical}:${port}`;
}

/** Whether two `host[:port]` spellings name the same registry (see {@link canonicalHost}). */
export function sameRegistryHost(a: string, b: string): boolean {
  return canonicalHost(a) === canonicalHost(b);
}

/**
 * The repository of a base image in this registry: the annotation's name when it names this
 * registry's host (`host:port/repo:tag`, in any spelling {@link sameRegistryHost} accepts), the
 * image's own repository when there is no name. `undefined` for a base image in another registry
 * or a name that is not a reference.
 */
export function baseRepository(
  name: string | undefined,
  own: string,
  host: string,
): string | undefined {
  if (!name) return own;
  const withoutDigest = name.split('@')[0] as string;
  const slash = withoutDigest.indexOf('/');
  const first = slash < 0 ? '' : withoutDigest.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first.toLowerCase() === 'localhost';
  if (!isHost || !sameRegistryHost(first, host)) return undefined;
  const path = withoutDigest.slice(slash + 1);
  const colon = path.lastIndexOf(':');
  const repo = colon > path.lastIndexOf('/') ? path.slice(0, colon) : path;
  return isRepositoryName(repo) ? repo : undefined;
}
