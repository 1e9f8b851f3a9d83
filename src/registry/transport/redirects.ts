import { RegistryHttpError } from '../errors/registry-http-error.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Hops after the first request. */
const MAX_REDIRECTS = 5;

/** Where a request may go and who may see its credentials. */
export interface RedirectRule {
  /** Follow `Location` answers (never for PUT and POST: their bodies are not sent twice). */
  follow: boolean;
  /** The only origin the `Authorization` header is sent to, on the first request and every hop. */
  credentialOrigin: string;
  /** The request URL for messages (no credentials). */
  describe: string;
  /** Told the URL of every answer, the last one being the answer returned. */
  answeredBy: (url: URL) => void;
}

/**
 * A fetch that follows redirects by hand under the origin rule: credentials go only to
 * `credentialOrigin`, whatever URL a `Location` names; a hop to another origin is sent without
 * them. Given to ky as its `fetch`, so one ky attempt (with its timeout and retry) covers the whole
 * chain of hops, as one request does for a caller.
 */
export function followingRedirects(
  fetch: typeof globalThis.fetch,
  rule: RedirectRule,
): typeof globalThis.fetch {
  return (async (input: Request, init?: RequestInit) => {
    let request = withoutForeignCredentials(input, new URL(input.url), rule.credentialOrigin);
    for (let hop = 0; ; hop++) {
      const url = new URL(request.url);
      rule.answeredBy(url);
      const response = await fetch(request, init);
      const location = response.headers.get('location');
      if (!rule.follow || !REDIRECTS.has(response.status) || !location) return response;
      await response.body?.cancel();
      if (hop >= MAX_REDIRECTS)
        throw new RegistryHttpError(
          310,
          request.method,
          rule.describe,
          undefined,
          'too many redirects',
        );
      const next = new URL(location, url);
      request = withoutForeignCredentials(
        new Request(next, {
          method: request.method,
          headers: request.headers,
          signal: request.signal,
          redirect: 'manual',
        }),
        next,
        rule.credentialOrigin,
      );
    }
  }) as typeof globalThis.fetch;
}

function withoutForeignCredentials(request: Request, url: URL, origin: string): Request {
  if (url.origin === origin || !request.headers.has('authorization')) return request;
  const headers = new Headers(request.headers);
  headers.delete('authorization');
  return new Request(request, { headers });
}
