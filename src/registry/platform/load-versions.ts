import { imageId } from '../../core/naming.js';
import type { Loader } from '../loader.js';
import type { RegistryPlatform } from './types.js';

/**
 * Adds every version a platform lists for `repositories` to the load: untagged manifests the OCI
 * API cannot list are fetched (and verified) through the OCI API like any other, and each
 * version's `createdAt` becomes its image's `pushed` time.
 */
export async function wantPlatformVersions(
  platform: RegistryPlatform,
  loader: Loader,
  repositories: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  for (const repo of repositories) {
    const versions = await platform.listVersions(repo, { signal });
    for (const version of versions) {
      if (version.createdAt) loader.pushed.set(imageId(repo, version.digest), version.createdAt);
      loader.want(repo, version.digest);
    }
  }
}
