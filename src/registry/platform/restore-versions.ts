import { imageId } from '../../core/naming.js';
import type { RegistryClient } from '../client.js';
import type { RegistryPlatform } from './types.js';

/**
 * Restores, through the platform, each journaled manifest the registry no longer serves, in the
 * given order (children before their index, subjects before their referrers). Returns the
 * `repo@digest` of those restored; the rest is left to the journal's bytes (re-push).
 */
export async function restorePlatformVersions(
  platform: RegistryPlatform,
  order: ReadonlyArray<{ repository: string; digest: string }>,
  client: RegistryClient,
  signal: AbortSignal | undefined,
): Promise<Set<string>> {
  const restored = new Set<string>();
  if (!platform.restoreVersion) return restored;
  for (const { repository, digest } of order) {
    if ((await client.resolve(repository, digest, { signal })) !== undefined) continue;
    if ((await platform.restoreVersion(repository, digest, { signal })) === 'restored')
      restored.add(imageId(repository, digest));
  }
  return restored;
}
