import type { RegistryCredentials } from './auth/credentials.js';
import type { PlatformOption } from './platform/select.js';

/** Retry settings. Retries cover 429 (honouring `Retry-After`), 502, 503, 504 and network errors. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 4. */
  limit?: number;
  /** First backoff delay in ms, doubled per retry. Default 250. */
  baseDelay?: number;
  /** Longest single wait in ms, including a `Retry-After`; a longer `Retry-After` fails at once. Default 30000. */
  maxDelay?: number;
}

/**
 * Bounds on one paginated list (a repository's tags, the catalog, a manifest's referrers), summed
 * over all its pages. A single page is also capped (32 MiB for tags and catalog, 4 MiB for
 * referrers), and a list over 100,000 pages stops too.
 */
export interface ListLimits {
  /** Names or descriptors in one list. Default 1,000,000. */
  entries?: number;
  /** Bytes of all its page bodies together. Default 134217728 (128 MiB). */
  bytes?: number;
}

/** Options of {@link RegistryClient}. */
export interface RegistryClientOptions {
  /** Registry base URL, e.g. `https://registry.example.com` or `http://127.0.0.1:5000`. */
  url: string;
  /** Credentials; default anonymous. See {@link credentialsFromDockerConfig}. */
  auth?: RegistryCredentials;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /**
   * Deadline in ms for one attempt of a request, from sending it to the last byte of its body
   * (redirects included); a retry gets a new deadline. Default 30000.
   */
  timeout?: number;
  /** Bounds on each paginated list across its pages. Default `{ entries: 1000000, bytes: 134217728 }`. */
  listLimits?: ListLimits;
  /** Retry settings, or a retry count. Default `{ limit: 4, baseDelay: 250, maxDelay: 30000 }`. */
  retry?: RetryOptions | number;
  /** `User-Agent` header. Default `regprune`. */
  userAgent?: string;
  /** A `fetch` implementation (e.g. to count or log requests). Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /**
   * Extra certificate authorities (PEM text) to trust for this client's HTTPS requests (registry
   * and token service), on top of Node's bundled roots — for a registry with a private CA.
   * Verification always stays on; there is no option to turn it off. Not with `fetch`.
   * Default: none.
   */
  ca?: string | string[];
  /** Like `ca`, read from a PEM file (may hold several certificates). Default: none. */
  caFile?: string;
  /**
   * A hosting platform's API to list every manifest (untagged ones too, with push times), delete
   * and restore through: `{ kind: 'ghcr', apiUrl, … }` (GitHub Container Registry on GitHub
   * Enterprise Server, or a test server), any {@link RegistryPlatform}, or `'none'`.
   * Default: the GitHub Packages API (`https://api.github.com`, token: `auth`'s password) for
   * `ghcr.io`, none elsewhere.
   */
  platform?: PlatformOption;
}

/** A manifest as fetched: its exact bytes, digest and media type. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
}
