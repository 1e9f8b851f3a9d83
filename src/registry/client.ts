// Over 400 lines (about 1,100): transport, auth, paging and every endpoint in one class that shares
// private state (token cache, limits, deadlines); issue 14 splits it into transport, auth, error
// mapping and endpoints.
import { readFileSync } from 'node:fs';
import ky, { type KyInstance } from 'ky';
import pLimit, { type LimitFunction } from 'p-limit';
import { redactCredentials } from '../core/errors/redact.js';
import { RegpruneError } from '../core/errors/regprune-error.js';
import {
  assertSafeForCredentials,
  basicHeader,
  CATALOG_SCOPE,
  type Challenge,
  isLoopback,
  parseChallenge,
  type RegistryCredentials,
  repositoryScope,
} from './auth.js';
import { digestOf } from './digest.js';
import { AuthError } from './errors/auth-error.js';
import { DeleteDisabledError } from './errors/delete-disabled-error.js';
import { DigestMismatchError } from './errors/digest-mismatch-error.js';
import { InsecureCredentialsError } from './errors/insecure-credentials-error.js';
import { ListLimitError } from './errors/list-limit-error.js';
import { MalformedResponseError } from './errors/malformed-response-error.js';
import { ManifestTooLargeError } from './errors/manifest-too-large-error.js';
import { PaginationLoopError } from './errors/pagination-loop-error.js';
import { RegistryHttpError } from './errors/registry-http-error.js';
import { RegistryUnreachableError } from './errors/registry-unreachable-error.js';
import { nextLink } from './link.js';
import { type Descriptor, parseReferrersIndex } from './manifest.js';
import { MANIFEST_ACCEPT, MANIFEST_LIMIT, OCI_INDEX } from './media-types.js';
import { authAdvice, deleteDisabledAdvice } from './platform/advice.js';
import { platformFor } from './platform/select.js';
import type { RegistryPlatform } from './platform/types.js';
import { checkDigest, checkReference, checkRepository, checkTag } from './reference.js';
import { fetchTrusting } from './tls-fetch.js';
import type { FetchedManifest, ListLimits, RegistryClientOptions, RetryOptions } from './types.js';

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const MAX_PAGES = 100_000;
/** Largest tag list, catalog or referrers page regprune reads. */
const LIST_LIMIT = 32 * 1024 * 1024;
/** Largest token service answer regprune reads. */
const TOKEN_LIMIT = 1024 * 1024;
/** Largest error body read for its OCI error code. */
const ERROR_LIMIT = 64 * 1024;
/** Default bounds of one paginated list over all its pages ({@link ListLimits}). */
const LIST_ENTRIES = 1_000_000;
const LIST_BYTES = 128 * 1024 * 1024;

/** When the attempt that produced a response runs out of time; its body is read by then too. */
interface Deadline {
  /** `Date.now()` value. */
  at: number;
  /** The client's `timeout`, for messages. */
  ms: number;
}
const deadlines = new WeakMap<Response, Deadline>();

/** An attempt, body included, ran past the client's `timeout` (retried like a network error). */
class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms, body included (the timeout option)`);
    this.name = 'TimeoutError';
  }
}

interface Call {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Path below the registry root (`v2/...`) or an absolute URL (Link targets, upload locations). */
  target: string;
  /** Scope the request needs under token auth. */
  scope: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
}

/** One page of a paginated list. */
interface Page<T> {
  items: T[];
  /** Size of the page's body. */
  bytes: number;
  /** The next page (same origin), if any. */
  next: string | undefined;
}

/** An answer and the URL that gave it (after redirects). */
interface Sent {
  response: Response;
  from: URL;
}

interface Token {
  value: string;
  expires: number;
}

/** Options every client request takes. */
export interface RequestOptions {
  signal?: AbortSignal;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

async function registryErrorCode(response: Response): Promise<string | undefined> {
  try {
    const bytes = await readLimited(response, ERROR_LIMIT);
    if (!bytes) return undefined;
    const body = JSON.parse(new TextDecoder().decode(bytes)) as {
      errors?: Array<{ code?: unknown }>;
    };
    const code = body.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A copy of a transport error that keeps only names, messages and codes down its cause chain.
 * Errors from fetch/ky carry the Request (with its Authorization header) and options; a logger
 * that inspects the error would print them.
 */
function scrubbed(error: unknown, depth = 0): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const cause =
    depth < 5 && error.cause !== undefined ? scrubbed(error.cause, depth + 1) : undefined;
  const copy = new Error(error.message, cause ? { cause } : undefined);
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });
  return copy;
}

/**
 * Reads a body up to `limit` bytes, before the deadline of the attempt that produced it (so a
 * body dripped byte by byte cannot hold a run); `undefined` when it is longer. Every body the
 * client reads goes through here.
 * @throws {DeadlineExceeded}
 */
async function readLimited(response: Response, limit: number): Promise<Uint8Array | undefined> {
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  if (length > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const deadline = deadlines.get(response);
  let late = false;
  // Cancelling ends the pending read (done) and closes the connection under it.
  const timer =
    deadline &&
    setTimeout(
      () => {
        late = true;
        reader.cancel().catch(() => undefined);
      },
      Math.max(0, deadline.at - Date.now()),
    );
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (late && deadline) throw new DeadlineExceeded(deadline.ms);
      if (done) return Buffer.concat(chunks);
      total += value.length;
      if (total > limit) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } catch (error) {
    if (late && deadline) throw new DeadlineExceeded(deadline.ms);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** A `fetch` trusting the `ca`/`caFile` options, or `undefined` when neither is set. */
function trustedFetch(options: RegistryClientOptions): typeof globalThis.fetch | undefined {
  if (options.ca === undefined && options.caFile === undefined) return undefined;
  if (options.fetch) throw new TypeError('RegistryClient: give either `fetch` or `ca`/`caFile`');
  const pems = options.ca === undefined ? [] : [options.ca].flat();
  if (options.caFile !== undefined) {
    try {
      pems.push(readFileSync(options.caFile, 'utf8'));
    } catch (error) {
      throw new TypeError(
        `RegistryClient: caFile ${options.caFile} cannot be read (${(error as Error).message})`,
      );
    }
  }
  if (!pems.every((pem) => pem.includes('-----BEGIN CERTIFICATE-----')))
    throw new TypeError('RegistryClient: `ca` must be PEM text (-----BEGIN CERTIFICATE-----)');
  return fetchTrusting(pems);
}

/**
 * A client of one registry (OCI Distribution API / Docker Registry v2): authentication (anonymous,
 * Basic, Bearer tokens per scope), retries, pagination, verified manifests. Requests are limited to
 * `concurrency` at once across everything using the client.
 *
 * @example
 * ```ts
 * const client = new RegistryClient({ url: 'https://registry.example.com', auth: await credentialsFromDockerConfig('registry.example.com') });
 * const tags = await client.listTags('team/app');
 * ```
 */
export class RegistryClient {
  /** The registry base URL, without a trailing slash. */
  readonly url: string;

  /** Requests this client sends at once at most (the `concurrency` option; default 8). */
  get concurrency(): number {
    return this.#limit.concurrency;
  }
  /** `host:port` of the registry. */
  readonly host: string;
  /**
   * The hosting platform's API this client lists, deletes and restores manifests through (GHCR's
   * Packages API for ghcr.io), or `undefined` for the OCI API alone. See the `platform` option.
   */
  readonly platform: RegistryPlatform | undefined;
  readonly #origin: string;
  readonly #credentials: RegistryCredentials | undefined;
  readonly #limit: LimitFunction;
  readonly #retry: Required<RetryOptions>;
  readonly #timeout: number;
  readonly #listLimits: Required<ListLimits>;
  readonly #api: KyInstance;
  readonly #absolute: KyInstance;
  #challenge: Challenge | undefined;
  readonly #tokens = new Map<string, Promise<Token>>();
  #referrersApi: boolean | undefined;
  #tagDelete: boolean | undefined;
  #requests = 0;

  constructor(options: RegistryClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new TypeError(
        `RegistryClient: url ${JSON.stringify(redactCredentials(options.url))} is not a URL`,
      );
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new TypeError(`RegistryClient: url must be http(s), got ${base.protocol}`);
    if (base.username || base.password)
      throw new TypeError('RegistryClient: put credentials in `auth`, not in the URL');
    if (options.auth) assertSafeForCredentials(base);
    this.url = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
    this.host = base.host;
    this.#origin = base.origin;
    this.#credentials = options.auth;
    this.#limit = pLimit(options.concurrency ?? 8);
    const retry =
      typeof options.retry === 'number' ? { limit: options.retry } : (options.retry ?? {});
    this.#retry = {
      limit: retry.limit ?? 4,
      baseDelay: retry.baseDelay ?? 250,
      maxDelay: retry.maxDelay ?? 30_000,
    };
    this.#timeout = options.timeout ?? 30_000;
    this.#listLimits = {
      entries: options.listLimits?.entries ?? LIST_ENTRIES,
      bytes: options.listLimits?.bytes ?? LIST_BYTES,
    };
    for (const [name, value] of Object.entries({
      timeout: this.#timeout,
      'listLimits.entries': this.#listLimits.entries,
      'listLimits.bytes': this.#listLimits.bytes,
    }))
      if (!Number.isSafeInteger(value) || value < 1)
        throw new TypeError(
          `RegistryClient: ${name} must be a positive whole number, got ${value}`,
        );
    const fetch = options.fetch ?? trustedFetch(options);
    this.platform = platformFor(base.host, options.platform, options.auth, fetch);
    const common = {
      // Each hop gets what is left of its attempt's deadline (see #send); bodies, readLimited.
      timeout: this.#timeout,
      retry: 0,
      throwHttpErrors: false,
      redirect: 'manual' as const,
      headers: { 'user-agent': options.userAgent ?? 'regprune' },
      ...(fetch ? { fetch } : {}),
    };
    this.#api = ky.create({ ...common, prefixUrl: `${this.url}/` });
    this.#absolute = ky.create(common);
  }

  /** Requests sent so far (including token requests and retries). */
  get requestCount(): number {
    return this.#requests;
  }

  /** `GET /v2/`: checks that the registry answers and the credentials work. */
  async ping(options: RequestOptions = {}): Promise<void> {
    await this.#limit(async () => {
      const response = await this.#call({ method: 'GET', target: 'v2/', scope: '', ...options });
      await this.#expect(response, [200], 'GET', 'v2/', '');
      await response.body?.cancel();
    });
  }

  /** Every repository in the catalog (`registry:catalog:*`), following `Link` pages. */
  async catalog(options: RequestOptions = {}): Promise<string[]> {
    const names = await this.#paged(
      'v2/_catalog?n=1000',
      'the catalog',
      CATALOG_SCOPE,
      'repositories',
      options,
    );
    return [...new Set(names)].map((n) => checkRepository(n, 'catalog'));
  }

  /** Tags of a repository (validated, deduplicated, in registry order); `[]` when it has none. */
  async listTags(repository: string, options: RequestOptions = {}): Promise<string[]> {
    checkRepository(repository, 'listTags');
    const tags = await this.#paged(
      `v2/${repository}/tags/list`,
      `tags of ${repository}`,
      repositoryScope(repository, 'pull'),
      'tags',
      options,
      true,
    );
    return [...new Set(tags)].map((t) => checkTag(t, `tags of ${repository}`));
  }

  /**
   * A manifest by tag or digest, with the full Accept list. Its bytes must hash to the digest
   * asked for and to `Docker-Content-Digest` when present; over 4 MiB is refused.
   * @returns `undefined` on 404.
   * @throws {DigestMismatchError} {@link ManifestTooLargeError} {@link RegistryHttpError}
   */
  async getManifest(
    repository: string,
    ref: string,
    options: RequestOptions = {},
  ): Promise<FetchedManifest | undefined> {
    checkRepository(repository, 'getManifest');
    checkReference(ref, `getManifest(${repository})`);
    const target = `v2/${repository}/manifests/${ref}`;
    return this.#limit(() =>
      this.#bodyRetry('GET', target, options.signal, async () => {
        const response = await this.#call({
          method: 'GET',
          target,
          scope: repositoryScope(repository, 'pull'),
          headers: { accept: MANIFEST_ACCEPT },
          ...options,
        });
        if (response.status === 404) {
          await response.body?.cancel();
          return undefined;
        }
        await this.#expect(response, [200], 'GET', target, repositoryScope(repository, 'pull'));
        const bytes = await readLimited(response, MANIFEST_LIMIT);
        if (!bytes) throw new ManifestTooLargeError(repository, ref, MANIFEST_LIMIT);
        const announced = response.headers.get('docker-content-digest') ?? undefined;
        const expected = ref.includes(':') ? ref : announced;
        const digest = digestOf(bytes, expected);
        if (expected && digest !== expected)
          throw new DigestMismatchError(repository, ref, expected, digest);
        if (announced && announced !== expected) {
          const again = digestOf(bytes, announced);
          if (again !== announced) throw new DigestMismatchError(repository, ref, announced, again);
        }
        const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
        return { digest, mediaType, bytes };
      }),
    );
  }

  /**
   * `HEAD` a manifest: its digest (from `Docker-Content-Digest`, else by a GET) or `undefined` on 404.
   */
  async resolve(
    repository: string,
    ref: string,
    options: RequestOptions = {},
  ): Promise<string | undefined> {
    checkRepository(repository, 'resolve');
    checkReference(ref, `resolve(${repository})`);
    const digest = await this.#limit(async () => {
      const target = `v2/${repository}/manifests/${ref}`;
      const response = await this.#call({
        method: 'HEAD',
        target,
        scope: repositoryScope(repository, 'pull'),
        headers: { accept: MANIFEST_ACCEPT },
        ...options,
      });
      await response.body?.cancel();
      if (response.status === 404) return null;
      await this.#expect(response, [200], 'HEAD', target, repositoryScope(repository, 'pull'));
      const announced = response.headers.get('docker-content-digest');
      return announced ? checkDigest(announced, `HEAD ${target}`) : undefined;
    });
    if (digest === null) return undefined;
    if (digest !== undefined) return digest;
    return (await this.getManifest(repository, ref, options))?.digest;
  }

  /**
   * What a tag points at, in one GET: `{ digest, present: true }` when its manifest answers;
   * `{ digest, present: false }` when it answers 404 but the registry names the digest the tag
   * still points at (distribution names the missing revision in the `MANIFEST_UNKNOWN` error's
   * `detail.Revision`: a tag left listed after its manifest was unlinked answers so);
   * `undefined` when the tag is unknown or the registry names no digest.
   */
  async tagTarget(
    repository: string,
    tag: string,
    options: RequestOptions = {},
  ): Promise<{ digest: string; present: boolean } | undefined> {
    checkRepository(repository, 'tagTarget');
    checkTag(tag, `tagTarget(${repository})`);
    const target = `v2/${repository}/manifests/${tag}`;
    return this.#limit(async () => {
      const response = await this.#call({
        method: 'GET',
        target,
        scope: repositoryScope(repository, 'pull'),
        headers: { accept: MANIFEST_ACCEPT },
        ...options,
      });
      if (response.status !== 404) {
        await this.#expect(response, [200], 'GET', target, repositoryScope(repository, 'pull'));
        const bytes = await readLimited(response, MANIFEST_LIMIT);
        if (!bytes) throw new ManifestTooLargeError(repository, tag, MANIFEST_LIMIT);
        const announced = response.headers.get('docker-content-digest') ?? undefined;
        const digest = digestOf(bytes, announced);
        if (announced && digest !== announced)
          throw new DigestMismatchError(repository, tag, announced, digest);
        return { digest, present: true };
      }
      try {
        const bytes = await readLimited(response, ERROR_LIMIT);
        if (!bytes) return undefined;
        const body = JSON.parse(new TextDecoder().decode(bytes)) as {
          errors?: Array<{ code?: unknown; detail?: { Revision?: unknown } }>;
        };
        const error = body.errors?.[0];
        const revision = error?.detail?.Revision;
        if (error?.code !== 'MANIFEST_UNKNOWN' || typeof revision !== 'string') return undefined;
        return { digest: checkDigest(revision, `GET ${target} (404 detail)`), present: false };
      } catch {
        return undefined;
      }
    });
  }

  /** PUTs manifest bytes to a tag or digest; returns the digest. Needs `pull,push`. */
  async putManifest(
    repository: string,
    ref: string,
    bytes: Uint8Array,
    mediaType: string,
    options: RequestOptions = {},
  ): Promise<string> {
    checkRepository(repository, 'putManifest');
    checkReference(ref, `putManifest(${repository})`);
    const scope = repositoryScope(repository, 'pull,push');
    return this.#limit(async () => {
      const target = `v2/${repository}/manifests/${ref}`;
      const response = await this.#call({
        method: 'PUT',
        target,
        scope,
        headers: { 'content-type': mediaType },
        body: bytes,
        ...options,
      });
      await this.#expect(response, [200, 201], 'PUT', target, scope);
      await response.body?.cancel();
      return digestOf(bytes);
    });
  }

  /**
   * `DELETE /v2/<repository>/manifests/<ref>`.
   * @returns `deleted` (202/200), `missing` (404), or for a tag `unsupported` (the registry
   *   cannot delete tags, like distribution 2.8's 400 DIGEST_INVALID).
   * @throws {DeleteDisabledError} on 405 UNSUPPORTED for a digest. {@link AuthError} naming the scope.
   */
  async deleteManifest(
    repository: string,
    ref: string,
    options: RequestOptions = {},
  ): Promise<'deleted' | 'missing' | 'unsupported'> {
    checkRepository(repository, 'deleteManifest');
    checkReference(ref, `deleteManifest(${repository})`);
    const scope = repositoryScope(repository, 'delete');
    // A platform deletes by digest through its own API (GHCR refuses the OCI DELETE).
    if (this.platform && ref.includes(':'))
      return this.#limit(() => this.platform?.deleteVersion(repository, ref, options) ?? 'missing');
    return this.#limit(async () => {
      const target = `v2/${repository}/manifests/${ref}`;
      let response = await this.#call({ method: 'DELETE', target, scope, ...options });
      // Distribution 2.8 answers 500 UNKNOWN now and then when deletes and tag writes in one
      // repository overlap (its tag scan races them); a digest DELETE is idempotent, so retry it.
      for (
        let attempt = 1;
        response.status === 500 && ref.includes(':') && attempt <= 3;
        attempt++
      ) {
        await response.body?.cancel();
        await sleep(100 * 2 ** attempt, options.signal);
        response = await this.#call({ method: 'DELETE', target, scope, ...options });
      }
      if (response.status === 202 || response.status === 200 || response.status === 204) {
        await response.body?.cancel();
        return 'deleted';
      }
      if (response.status === 404) {
        await response.body?.cancel();
        return 'missing';
      }
      const isTag = !ref.includes(':');
      if (response.status === 405) {
        const code = await registryErrorCode(response);
        if (isTag && this.#tagDelete !== false) return 'unsupported';
        throw new DeleteDisabledError(
          this.url,
          deleteDisabledAdvice(this.host, code, this.platform),
        );
      }
      if (isTag && response.status === 400) {
        await response.body?.cancel();
        return 'unsupported';
      }
      await this.#expect(response, [], 'DELETE', target, scope);
      return 'missing';
    });
  }

  /**
   * Probes whether deletes are enabled and allowed in `repository` without changing anything
   * (deletes a digest that cannot exist; 404 means yes).
   * @throws {DeleteDisabledError} {@link AuthError}
   */
  async probeDelete(repository: string, options: RequestOptions = {}): Promise<void> {
    if (this.platform) return this.platform.probeDelete(repository, options);
    await this.deleteManifest(repository, `sha256:${'0'.repeat(64)}`, options);
  }

  /**
   * Whether `DELETE manifests/<tag>` works on this registry: `undefined` until the first untag
   * learns it (distribution 2.8 answers 400, so untags use a placeholder there).
   */
  get tagDeleteSupported(): boolean | undefined {
    return this.#tagDelete;
  }

  set tagDeleteSupported(value: boolean | undefined) {
    this.#tagDelete = value;
  }

  /** A blob's bytes, verified against its digest; `undefined` on 404 or when over `limit`. */
  async getBlob(
    repository: string,
    digest: string,
    limit: number,
    options: RequestOptions = {},
  ): Promise<Uint8Array | undefined> {
    checkRepository(repository, 'getBlob');
    checkDigest(digest, `getBlob(${repository})`);
    const scope = repositoryScope(repository, 'pull');
    const target = `v2/${repository}/blobs/${digest}`;
    return this.#limit(() =>
      this.#bodyRetry('GET', target, options.signal, async () => {
        const response = await this.#call({ method: 'GET', target, scope, ...options });
        if (response.status === 404) {
          await response.body?.cancel();
          return undefined;
        }
        await this.#expect(response, [200], 'GET', target, scope);
        const bytes = await readLimited(response, limit);
        if (!bytes) return undefined;
        const actual = digestOf(bytes, digest);
        if (actual !== digest) throw new DigestMismatchError(repository, digest, digest, actual);
        return bytes;
      }),
    );
  }

  /** Whether the repository has the blob (`HEAD /v2/<repository>/blobs/<digest>`). */
  async hasBlob(
    repository: string,
    digest: string,
    options: RequestOptions = {},
  ): Promise<boolean> {
    checkRepository(repository, 'hasBlob');
    checkDigest(digest, `hasBlob(${repository})`);
    const scope = repositoryScope(repository, 'pull');
    return this.#limit(async () => {
      const target = `v2/${repository}/blobs/${digest}`;
      const response = await this.#call({ method: 'HEAD', target, scope, ...options });
      await response.body?.cancel();
      if (response.status === 404) return false;
      await this.#expect(response, [200], 'HEAD', target, scope);
      return true;
    });
  }

  /** Uploads a small blob unless the repository already has it; returns its digest. */
  async ensureBlob(
    repository: string,
    bytes: Uint8Array,
    options: RequestOptions = {},
  ): Promise<string> {
    checkRepository(repository, 'ensureBlob');
    const digest = digestOf(bytes);
    const scope = repositoryScope(repository, 'pull,push');
    return this.#limit(async () => {
      const blob = `v2/${repository}/blobs/${digest}`;
      const head = await this.#call({ method: 'HEAD', target: blob, scope, ...options });
      await head.body?.cancel();
      if (head.status === 200) return digest;
      const start = `v2/${repository}/blobs/uploads/`;
      const begun = await this.#call({ method: 'POST', target: start, scope, ...options });
      await this.#expect(begun, [202], 'POST', start, scope);
      await begun.body?.cancel();
      const location = new URL(begun.headers.get('location') ?? '', `${this.url}/${start}`);
      location.searchParams.set('digest', digest);
      const put = await this.#call({
        method: 'PUT',
        target: location.toString(),
        scope,
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
        ...options,
      });
      await this.#expect(put, [201, 204], 'PUT', `v2/${repository}/blobs/uploads/…`, scope);
      await put.body?.cancel();
      return digest;
    });
  }

  /**
   * The referrers of `digest` from the referrers API (all pages), or `undefined` when the
   * registry has no referrers API (probed once per client: a 404 that is not an index).
   */
  async listReferrers(
    repository: string,
    digest: string,
    options: RequestOptions = {},
  ): Promise<Descriptor[] | undefined> {
    if (this.#referrersApi === false) return undefined;
    checkRepository(repository, 'listReferrers');
    checkDigest(digest, `listReferrers(${repository})`);
    const scope = repositoryScope(repository, 'pull');
    const list = await this.#pages(
      `v2/${repository}/referrers/${digest}`,
      `referrers of ${repository}@${digest}`,
      options.signal,
      async (page) => {
        const response = await this.#call({
          method: 'GET',
          target: page,
          scope,
          headers: { accept: OCI_INDEX },
          ...options,
        });
        if (response.status === 404 || response.status === 400 || response.status === 405) {
          await response.body?.cancel();
          return undefined;
        }
        await this.#expect(response, [200], 'GET', page, scope);
        const bytes = await readLimited(response, MANIFEST_LIMIT);
        if (!bytes)
          throw new ManifestTooLargeError(repository, `referrers of ${digest}`, MANIFEST_LIMIT);
        return {
          items: parseReferrersIndex(bytes, repository, digest),
          bytes: bytes.length,
          next: this.#nextPage(response, page),
        };
      },
    );
    this.#referrersApi = list !== undefined;
    return list;
  }

  /** Whether the registry has a referrers API (`undefined` until probed). */
  get referrersApi(): boolean | undefined {
    return this.#referrersApi;
  }

  async #paged(
    first: string,
    list: string,
    scope: string,
    field: 'tags' | 'repositories',
    options: RequestOptions,
    notFoundIsEmpty = false,
  ): Promise<string[]> {
    const names = await this.#pages(first, list, options.signal, async (page) => {
      const response = await this.#call({ method: 'GET', target: page, scope, ...options });
      if (notFoundIsEmpty && response.status === 404) {
        await response.body?.cancel();
        return { items: [], bytes: 0, next: undefined };
      }
      await this.#expect(response, [200], 'GET', page, scope);
      const bytes = await readLimited(response, LIST_LIMIT);
      if (!bytes)
        throw new MalformedResponseError('GET', this.#describe(page), `over ${LIST_LIMIT} bytes`);
      const body = this.#parseJson(bytes, 'GET', page);
      const items = body[field] ?? [];
      if (!Array.isArray(items))
        throw new MalformedResponseError('GET', this.#describe(page), `"${field}" is not a list`);
      return {
        items: items.map((name: unknown) => (typeof name === 'string' ? name : String(name))),
        bytes: bytes.length,
        next: this.#nextPage(response, page),
      };
    });
    return names ?? [];
  }

  /**
   * Every entry of a paginated list, from `first` along same-origin `Link: rel="next"` pages,
   * within the client's list limits; `undefined` when `read` finds no first page.
   * @throws {ListLimitError} past `listLimits`. {@link PaginationLoopError} on a repeated page,
   *   a vanished next page, or over 100,000 pages.
   */
  async #pages<T>(
    first: string,
    list: string,
    signal: AbortSignal | undefined,
    read: (page: string) => Promise<Page<T> | undefined>,
  ): Promise<T[] | undefined> {
    const out: T[] = [];
    const seen = new Set<string>();
    let bytes = 0;
    let target: string | undefined = first;
    while (target) {
      const page: string = target;
      if (seen.has(this.#absoluteOf(page)))
        throw new PaginationLoopError(
          this.#describe(first),
          `next link ${this.#describe(page)} repeats a page`,
        );
      if (seen.size >= MAX_PAGES)
        throw new PaginationLoopError(this.#describe(first), `over ${MAX_PAGES} pages`);
      seen.add(this.#absoluteOf(page));
      const result = await this.#limit(() =>
        this.#bodyRetry('GET', page, signal, () => read(page)),
      );
      if (!result) {
        if (seen.size === 1) return undefined;
        throw new PaginationLoopError(this.#describe(page), 'a next page vanished');
      }
      bytes += result.bytes;
      if (bytes > this.#listLimits.bytes)
        throw new ListLimitError(this.url, list, 'bytes', this.#listLimits.bytes);
      if (out.length + result.items.length > this.#listLimits.entries)
        throw new ListLimitError(this.url, list, 'entries', this.#listLimits.entries);
      for (const item of result.items) out.push(item);
      target = result.next;
    }
    return out;
  }

  /**
   * The `Link: rel="next"` page after `page`, on the registry's own origin.
   * @throws {PaginationLoopError} when it leads to another origin: list pages decide what is
   *   deleted, a page from elsewhere cannot be told apart from the registry's, and distribution
   *   sends relative links, so a cross-origin one is refused rather than followed.
   */
  #nextPage(response: Response, page: string): string | undefined {
    const next = nextLink(response.headers.get('link'), this.#absoluteOf(page));
    if (next === undefined) return undefined;
    const url = new URL(next);
    if (url.origin !== this.#origin)
      throw new PaginationLoopError(
        this.#describe(page),
        `the next link leads to another origin (${url.origin}${url.pathname}, host ${url.host}), not the registry ${this.#origin}; regprune reads list pages only from the registry itself and sent nothing there`,
      );
    return next;
  }

  /** A JSON object body of at most `limit` bytes. @throws {MalformedResponseError} */
  async #readJson(
    response: Response,
    limit: number,
    method: string,
    target: string,
  ): Promise<Record<string, unknown>> {
    const bytes = await readLimited(response, limit);
    if (!bytes)
      throw new MalformedResponseError(method, this.#describe(target), `over ${limit} bytes`);
    return this.#parseJson(bytes, method, target);
  }

  /** Bytes holding a JSON object. @throws {MalformedResponseError} */
  #parseJson(bytes: Uint8Array, method: string, target: string): Record<string, unknown> {
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new MalformedResponseError(
        method,
        this.#describe(target),
        'the body is not valid JSON',
      );
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new MalformedResponseError(
        method,
        this.#describe(target),
        'the body is not a JSON object',
      );
    return body as Record<string, unknown>;
  }

  /**
   * Runs a request and the read of its body; a body cut short (connection lost mid-body) is
   * retried like a failed request. Typed errors (digest mismatch, HTTP status…) are not retried.
   */
  async #bodyRetry<T>(
    method: string,
    target: string,
    signal: AbortSignal | undefined,
    attempt: () => Promise<T>,
  ): Promise<T> {
    const { limit, baseDelay, maxDelay } = this.#retry;
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error;
        if (error instanceof RegpruneError) throw error;
        if (n >= limit)
          throw new RegistryUnreachableError(
            method,
            this.#describe(target),
            n + 1,
            scrubbed(error),
          );
        await sleep(Math.min(maxDelay, baseDelay * 2 ** n), signal);
      }
    }
  }

  #absoluteOf(target: string): string {
    return /^https?:\/\//.test(target) ? target : `${this.url}/${target}`;
  }

  /** A URL for messages: never holds credentials (requests carry them only in headers). */
  #describe(target: string): string {
    const url = new URL(this.#absoluteOf(target));
    url.username = '';
    url.password = '';
    return url.toString();
  }

  async #expect(
    response: Response,
    ok: number[],
    method: string,
    target: string,
    scope: string,
  ): Promise<void> {
    if (ok.includes(response.status)) return;
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new AuthError(
        response.status,
        `${method} ${this.#describe(target)}`,
        scope || undefined,
        '',
        authAdvice(this.host, method),
      );
    }
    const code = await registryErrorCode(response);
    if (response.status === 405 && code === 'UNSUPPORTED' && method === 'DELETE')
      throw new DeleteDisabledError(this.url, deleteDisabledAdvice(this.host, code, this.platform));
    throw new RegistryHttpError(response.status, method, this.#describe(target), code);
  }

  /**
   * One logical request: authentication, retries, redirects. The body is left unread. Only the
   * registry's own origin may challenge: a 401 from a redirect target is an error, never a new
   * challenge, so its realm never sees a token request (nor the credentials that go with one).
   */
  async #call(call: Call): Promise<Response> {
    const sent = await this.#send(call, await this.#authorization(call.scope, call.signal));
    let response = sent.response;
    if (response.status !== 401) return response;
    await this.#refuseForeign(call, sent);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    await response.body?.cancel();
    if (!challenge) return response;
    this.#challenge = challenge;
    if (challenge.scheme === 'basic' && !this.#credentials) {
      throw new AuthError(
        401,
        `${call.method} ${this.#describe(call.target)}`,
        call.scope || undefined,
        'the registry needs credentials (Basic auth) and none were given',
      );
    }
    if (challenge.scheme === 'bearer') {
      // The challenge may name a wider scope than ours (e.g. pull,push for a PUT): ask for that one.
      const wanted = challenge.params.scope ?? call.scope;
      this.#tokens.delete(call.scope);
      this.#tokens.delete(wanted);
      const token = this.#token(wanted, call.signal);
      if (call.scope) this.#tokens.set(call.scope, token);
      const again = await this.#send(call, `Bearer ${(await token).value}`);
      await this.#refuseForeign(call, again);
      response = again.response;
    } else {
      const again = await this.#send(call, await this.#authorization(call.scope, call.signal));
      await this.#refuseForeign(call, again);
      response = again.response;
    }
    if (response.status === 401) {
      await response.body?.cancel();
      throw new AuthError(
        401,
        `${call.method} ${this.#describe(call.target)}`,
        call.scope || undefined,
        '',
        authAdvice(this.host, call.method),
      );
    }
    return response;
  }

  async #authorization(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = this.#credentials;
      return creds && 'password' in creds ? basicHeader(creds.username, creds.password) : undefined;
    }
    const key = scope;
    let token = this.#tokens.get(key);
    if (token) {
      const value = await token.catch(() => undefined);
      if (value && value.expires > Date.now() + 5_000) return `Bearer ${value.value}`;
      this.#tokens.delete(key);
    }
    // We know the realm: fetch the token for this scope up front instead of waiting for a 401.
    token = this.#token(scope, signal);
    this.#tokens.set(key, token);
    return `Bearer ${(await token).value}`;
  }

  #token(scope: string, signal?: AbortSignal): Promise<Token> {
    const cached = this.#tokens.get(scope);
    if (cached) return cached;
    const promise = this.#fetchToken(scope, signal);
    this.#tokens.set(scope, promise);
    promise.catch(() => this.#tokens.delete(scope));
    return promise;
  }

  async #fetchToken(scope: string, signal?: AbortSignal): Promise<Token> {
    const params = this.#challenge?.params ?? {};
    if (!params.realm)
      throw new AuthError(401, this.url, scope || undefined, 'the Bearer challenge names no realm');
    const realm = new URL(params.realm, this.url);
    const creds = this.#credentials;
    if (creds) {
      assertSafeForCredentials(realm);
      // Plain HTTP is tolerated only when registry and token service are both on this machine:
      // an HTTPS registry must not downgrade its credentials to a plain-HTTP realm elsewhere.
      if (realm.protocol === 'http:' && !isLoopback(new URL(this.url).hostname))
        throw new InsecureCredentialsError(
          `${realm.protocol}//${realm.host}${realm.pathname}`,
          `the token realm is plain HTTP on another host than the registry ${this.host}`,
        );
    }
    const query = new URLSearchParams();
    if (params.service) query.set('service', params.service);
    if (scope) query.set('scope', scope);
    let response: Response;
    const safeRealm = `${realm.origin}${realm.pathname}`;
    if (creds && 'identityToken' in creds) {
      const form = new URLSearchParams(query);
      form.set('grant_type', 'refresh_token');
      form.set('client_id', 'regprune');
      form.set('refresh_token', creds.identityToken);
      response = await this.#sendAbsolute('POST', realm.toString(), {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new TextEncoder().encode(form.toString()),
        signal,
      });
    } else {
      for (const [k, v] of query) realm.searchParams.append(k, v);
      response = await this.#sendAbsolute('GET', realm.toString(), {
        headers: creds ? { authorization: basicHeader(creds.username, creds.password) } : {},
        signal,
      });
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new AuthError(response.status, `token service ${safeRealm}`, scope || undefined);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = await this.#readJson(response, TOKEN_LIMIT, 'GET', safeRealm);
    } catch (error) {
      // A connection lost or too slow mid-answer is not a refusal.
      if (!(error instanceof MalformedResponseError))
        throw new RegistryUnreachableError('GET', safeRealm, 1, scrubbed(error));
      throw new AuthError(
        200,
        `token service ${safeRealm}`,
        scope || undefined,
        `the answer is not a JSON object of at most ${TOKEN_LIMIT} bytes`,
      );
    }
    const value = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof value !== 'string' || value === '')
      throw new AuthError(
        200,
        `token service ${safeRealm}`,
        scope || undefined,
        'the answer holds no token',
      );
    const seconds =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { value, expires: Date.now() + seconds * 1000 };
  }

  async #sendAbsolute(
    method: 'GET' | 'POST',
    url: string,
    init: { headers: Record<string, string>; body?: Uint8Array; signal?: AbortSignal },
  ): Promise<Response> {
    return this.#withRetry(method, url, init.signal, (deadline) =>
      this.#absolute(url, {
        method,
        headers: init.headers,
        body: init.body,
        signal: init.signal,
        timeout: Math.max(1, deadline - Date.now()),
      }),
    );
  }

  /** Throws when a 401 came from another origin than the registry's. @throws {AuthError} */
  async #refuseForeign(call: Call, sent: Sent): Promise<void> {
    const { response, from } = sent;
    if (response.status !== 401 || from.origin === this.#origin) return;
    await response.body?.cancel();
    const redirected = new URL(this.#absoluteOf(call.target)).origin === this.#origin;
    const via = redirected ? ` (a redirect from ${this.#describe(call.target)} led there)` : '';
    // Path only: a redirect target's query may hold a signed URL's signature.
    throw new AuthError(
      401,
      `${call.method} ${from.origin}${from.pathname}`,
      undefined,
      `that answer came from ${from.host}, not the registry ${this.host}${via}; regprune takes authentication challenges only from the registry's own origin, so ${from.host} was sent no credentials and the token realm it names no request`,
      `make the registry's redirect targets (its storage or CDN) serve without authentication, or report it to the registry's operator`,
    );
  }

  /**
   * Sends once per attempt, following redirects (credentials stay on the registry's origin).
   * `from` is the URL that gave the final answer.
   */
  async #send(call: Call, authorization: string | undefined): Promise<Sent> {
    let from = new URL(this.#absoluteOf(call.target));
    const response = await this.#withRetry(
      call.method,
      this.#describe(call.target),
      call.signal,
      async (deadline) => {
        let target = call.target;
        // Credentials stay on the registry's origin, whatever URL a Location or Link names.
        let auth =
          /^https?:\/\//.test(target) && new URL(target).origin !== this.#origin
            ? undefined
            : authorization;
        for (let hop = 0; hop < 6; hop++) {
          const headers: Record<string, string> = { ...call.headers };
          if (auth) headers.authorization = auth;
          const init = {
            method: call.method,
            headers,
            body: call.body,
            signal: call.signal,
            timeout: Math.max(1, deadline - Date.now()),
          };
          const absolute = /^https?:\/\//.test(target);
          from = new URL(this.#absoluteOf(target));
          const response = absolute
            ? await this.#absolute(target, init)
            : await this.#api(target, init);
          const location = response.headers.get('location');
          if (
            ![301, 302, 303, 307, 308].includes(response.status) ||
            !location ||
            call.method === 'PUT' ||
            call.method === 'POST'
          ) {
            return response;
          }
          await response.body?.cancel();
          const next = new URL(location, this.#absoluteOf(target));
          if (next.origin !== this.#origin) auth = undefined;
          target = next.toString();
        }
        throw new RegistryHttpError(
          310,
          call.method,
          this.#describe(call.target),
          undefined,
          'too many redirects',
        );
      },
    );
    return { response, from };
  }

  async #withRetry(
    method: string,
    url: string,
    signal: AbortSignal | undefined,
    attempt: (deadline: number) => Promise<Response>,
  ): Promise<Response> {
    const { limit, baseDelay, maxDelay } = this.#retry;
    for (let n = 0; ; n++) {
      signal?.throwIfAborted();
      let response: Response | undefined;
      let failure: unknown;
      // One deadline per attempt: every redirect hop and the body read (readLimited) share it.
      const deadline = { at: Date.now() + this.#timeout, ms: this.#timeout };
      try {
        this.#requests++;
        response = await attempt(deadline.at);
        deadlines.set(response, deadline);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof RegistryHttpError || error instanceof AuthError) throw error;
        failure =
          error instanceof Error && error.name === 'TimeoutError'
            ? new DeadlineExceeded(deadline.ms)
            : error;
      }
      if (response && !RETRY_STATUSES.has(response.status)) return response;
      const backoff = Math.min(maxDelay, baseDelay * 2 ** n);
      let wait = backoff;
      if (response) {
        const after = retryAfterMs(response.headers.get('retry-after'));
        if (after !== undefined) wait = after;
      }
      if (n >= limit || wait > maxDelay) {
        if (response) {
          const code = await registryErrorCode(response);
          throw new RegistryHttpError(
            response.status,
            method,
            url,
            code,
            `gave up after ${n + 1} attempt${n === 0 ? '' : 's'}${wait > maxDelay ? ` (Retry-After asks for ${Math.round(wait / 1000)} s, over the ${Math.round(maxDelay / 1000)} s limit)` : ''}; try again later`,
          );
        }
        throw new RegistryUnreachableError(method, url, n + 1, scrubbed(failure));
      }
      await response?.body?.cancel();
      await sleep(wait, signal);
    }
  }
}
