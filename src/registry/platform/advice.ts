import type { RegistryPlatform } from './types.js';

/** Docker Hub's registry hosts. */
const DOCKER_HUB = new Set([
  'docker.io',
  'registry-1.docker.io',
  'index.docker.io',
  'registry.hub.docker.com',
]);

export function isDockerHub(host: string): boolean {
  return DOCKER_HUB.has(host.toLowerCase());
}

/**
 * What to do about a 405 to an OCI manifest DELETE, per registry: the platform's own advice
 * (GHCR), Docker Hub's documented rules, distribution's `storage.delete.enabled` (a 405 with
 * its `UNSUPPORTED` code), or for any other host that it does not accept OCI deletes.
 * `undefined` means distribution's advice (the default message).
 */
export function deleteDisabledAdvice(
  host: string,
  registryCode: string | undefined,
  platform: RegistryPlatform | undefined,
): string | undefined {
  if (platform) return platform.deleteAdvice;
  if (isDockerHub(host))
    return `Docker Hub answered 405: Docker's registry API documentation allows DELETE /v2/<name>/manifests/<digest> only with a token that has delete access (a personal access token with "Read, Write, Delete" permission, which Docker Hub's token service at auth.docker.io must grant as the "delete" action) and only for manifests no tag or other image references; check the token's permission, or delete in Docker Hub's web interface`;
  if (registryCode === 'UNSUPPORTED') return undefined;
  return `${host} does not accept OCI deletes (405 to DELETE /v2/<name>/manifests/<digest>): delete through the registry's own API or web interface; if it is a self-hosted distribution registry, enable deletes with storage.delete.enabled: true (or REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it`;
}

/** What to do about a 401/403 to a request, where the registry has its own rules. */
export function authAdvice(host: string, method: string): string | undefined {
  if (!isDockerHub(host)) return undefined;
  if (method === 'DELETE')
    return `Docker Hub deletes only with a token that has delete access (a personal access token with "Read, Write, Delete" permission) and refuses (403) a manifest that a tag or another image still references; check the token's permission`;
  return `Docker Hub's token service (auth.docker.io) refused: check the username and the personal access token; anonymous and free accounts are also rate limited (ratelimit-remaining header)`;
}
