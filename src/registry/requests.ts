/**
 * How a request is named in an outcome's `requests`: one wording for what a run sent and for
 * what a dry run says it would send, so that the two cannot drift apart.
 */

/** A manifest request, `<METHOD> /v2/<repository>/manifests/<reference>`, with why in brackets. */
export function manifestRequest(
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE',
  repository: string,
  reference: string,
  why?: string,
): string {
  return `${method} /v2/${repository}/manifests/${reference}${why ? ` (${why})` : ''}`;
}

/** A tag list read, `GET /v2/<repository>/tags/list`, with why in brackets. */
export function tagListRequest(repository: string, why?: string): string {
  return `GET /v2/${repository}/tags/list${why ? ` (${why})` : ''}`;
}

/** The check that the placeholder's config blob is there (its digest shortened). */
export function placeholderConfigRequest(repository: string, configDigest: string): string {
  return `HEAD /v2/${repository}/blobs/${configDigest.slice(0, 'sha256:'.length + 7)}…`;
}
