import type { ApplyResult } from '../../core/target.js';
import type { RegistryPlatform } from './types.js';

const OCI_DIGEST_DELETE = /^DELETE \/v2\/(.+)\/manifests\/(sha256:[0-9a-f]{64})$/;

/**
 * A dry run's requests as a platform client sends them: each OCI digest DELETE becomes the
 * platform API request (GHCR: `DELETE …/packages/container/{name}/versions/{id}`).
 */
export function platformDryRun(platform: RegistryPlatform, result: ApplyResult): ApplyResult {
  for (const outcome of result.outcomes) {
    if (!outcome.requests) continue;
    outcome.requests = outcome.requests.map((request) => {
      const match = OCI_DIGEST_DELETE.exec(request);
      if (match) return platform.describeDelete(match[1] as string, match[2] as string);
      if (request.startsWith('DELETE /v2/') && request.includes('(probe: 404 means deletes work)'))
        return `GET ${platform.apiUrl}/…/packages/container/<name>/versions (probe: the token can list versions, and names delete:packages where GitHub shows its scopes)`;
      return request;
    });
  }
  return result;
}
