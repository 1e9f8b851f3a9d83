import { sameRegistryHost } from '../core/image-references.js';
import { isRepositoryName } from './reference.js';

// Host spellings are compared in the core, which resolves in-use image references too.
export { canonicalHost, sameRegistryHost } from '../core/image-references.js';

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
