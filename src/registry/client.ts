// Over 400 lines: the endpoint facade holds every manifest endpoint (get, resolve, put, delete) with
// the platform hooks beside them; blobs, lists and tagTarget already live in endpoints/, and the
// manifest endpoints are the next to move there.
import pLimit, { type LimitFunction } from 'p-limit';
import { redactCredentials } from '../core/errors/redact.js';
import { Authenticator } from './auth/authenticator.js';
import { CATALOG_SCOPE, repositoryScope } from './auth/challenge.js';
import { assertSafeForCredentials } from './auth/credentials.js';
import { digestOf } from './digest.js';
import { ensureBlob, getBlob, hasBlob } from './endpoints/blobs.js';
import type { Endpoint, EndpointContext } from './endpoints/context.js';
import { listNames, listReferrers } from './endpoints/lists.js';
import { tagTarget } from './endpoints/tag-target.js';
import { DeleteDisabledError } from './errors/delete-disabled-error.js';
import { DigestMismatchError } from './errors/digest-mismatch-error.js';
import { ManifestTooLargeError } from './errors/manifest-too-large-error.js';
import { expectStatus, registryErrorCode } from './http-errors.js';
import type { Descriptor } from './manifest.js';
import { MANIFEST_ACCEPT, MANIFEST_LIMIT } from './media-types.js';
import { deleteDisabledAdvice } from './platform/advice.js';
import { platformFor } from './platform/select.js';
import type { RegistryPlatform } from './platform/types.js';
import { checkDigest, checkReference, checkRepository, checkTag } from './reference.js';
import { LIST_BYTES, LIST_ENTRIES } from './transport/limits.js';
import { retryPolicy, TRANSIENT_DIGEST_DELETE } from './transport/retry.js';
import { type Sent, Transport } from './transport/send.js';
import { trustedFetch } from './transport/tls-fetch.js';
import type { FetchedManifest, RegistryClientOptions } from './types.js';

/** Options every client request takes. */
export interface RequestOptions {
  signal?: AbortSignal;
}

/**
 * A client of one registry (OCI Distribution API / Docker Registry v2): authentication (anonymous,
 * Basic, Bearer tokens per scope), retries, pagination, verified manifests. Requests are limited to
 * `concurrency` at once across everything using the client.
 *
 * The class is the endpoint facade; the work is done by the transport (`transport/`: send,
 * redirects under the origin rule, one retry policy, bounded reads), authentication (`auth/`),
 * the status → typed error mapping (`http-errors.ts`) and the paging generator (`paging.ts`).
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
  readonly #limit: LimitFunction;
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #endpoints: EndpointContext;
  #referrersApi: boolean | undefined;
  #tagDelete: boolean | undefined;

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
    this.#limit = pLimit(options.concurrency ?? 8);
    const timeout = options.timeout ?? 30_000;
    const limits = {
      entries: options.listLimits?.entries ?? LIST_ENTRIES,
      bytes: options.listLimits?.bytes ?? LIST_BYTES,
    };
    for (const [name, value] of Object.entries({
      timeout,
      'listLimits.entries': limits.entries,
      'listLimits.bytes': limits.bytes,
    }))
      if (!Number.isSafeInteger(value) || value < 1)
        throw new TypeError(
          `RegistryClient: ${name} must be a positive whole number, got ${value}`,
        );
    const fetch = options.fetch ?? trustedFetch(options);
    this.platform = platformFor(base.host, options.platform, options.auth, fetch);
    this.#transport = new Transport({
      origin: base.origin,
      timeout,
      retry: retryPolicy(options.retry),
      userAgent: options.userAgent ?? 'regprune',
      fetch,
    });
    const registry = { url: this.url, origin: base.origin, host: this.host };
    this.#auth = new Authenticator(this.#transport, registry, options.auth);
    this.#endpoints = {
      url: this.url,
      limit: this.#limit,
      call: (endpoint) => this.#call(endpoint),
      expect: (...args) => this.#expect(...args),
      describe: (target) => this.#describe(target),
      absolute: (target) => this.#absolute(target),
      paging: {
        registry: this.url,
        origin: base.origin,
        limits,
        describe: (url) => this.#describe(url),
      },
    };
  }

  /** Requests sent so far (including token requests and retries). */
  get requestCount(): number {
    return this.#transport.requestCount;
  }

  /** `GET /v2/`: checks that the registry answers and the credentials work. */
  async ping(options: RequestOptions = {}): Promise<void> {
    await this.#limit(async () => {
      const { response } = await this.#call({
        method: 'GET',
        target: 'v2/',
        scope: '',
        ...options,
      });
      await this.#expect(response, [200], 'GET', 'v2/', '');
      await response.body?.cancel();
    });
  }

  /** Every repository in the catalog (`registry:catalog:*`), following `Link` pages. */
  async catalog(options: RequestOptions = {}): Promise<string[]> {
    const names = await listNames(
      this.#endpoints,
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
    const tags = await listNames(
      this.#endpoints,
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
    const scope = repositoryScope(repository, 'pull');
    return this.#limit(async () => {
      const { response, bytes } = await this.#call({
        method: 'GET',
        target,
        scope,
        headers: { accept: MANIFEST_ACCEPT },
        read: MANIFEST_LIMIT,
        ...options,
      });
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      await this.#expect(response, [200], 'GET', target, scope);
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
    });
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
      const scope = repositoryScope(repository, 'pull');
      const { response } = await this.#call({
        method: 'HEAD',
        target,
        scope,
        headers: { accept: MANIFEST_ACCEPT },
        ...options,
      });
      await response.body?.cancel();
      if (response.status === 404) return null;
      await this.#expect(response, [200], 'HEAD', target, scope);
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
   * still points at (distribution's `MANIFEST_UNKNOWN` `detail.Revision`); `undefined` when the
   * tag is unknown or the registry names no digest.
   */
  tagTarget(
    repository: string,
    tag: string,
    options: RequestOptions = {},
  ): Promise<{ digest: string; present: boolean } | undefined> {
    return tagTarget(this.#endpoints, repository, tag, options);
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
      const { response } = await this.#call({
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
   * `DELETE /v2/<repository>/manifests/<ref>`. A 500 on a digest is retried like a 503 (see
   * {@link TRANSIENT_DIGEST_DELETE}).
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
    const isTag = !ref.includes(':');
    // A platform deletes by digest through its own API (GHCR refuses the OCI DELETE).
    if (this.platform && !isTag)
      return this.#limit(() => this.platform?.deleteVersion(repository, ref, options) ?? 'missing');
    return this.#limit(async () => {
      const target = `v2/${repository}/manifests/${ref}`;
      const { response } = await this.#call({
        method: 'DELETE',
        target,
        scope,
        ...(isTag ? {} : { transient: TRANSIENT_DIGEST_DELETE }),
        ...options,
      });
      const status = response.status;
      if (status === 202 || status === 200 || status === 204) {
        await response.body?.cancel();
        return 'deleted';
      }
      if (status === 404) {
        await response.body?.cancel();
        return 'missing';
      }
      if (status === 405) {
        const code = await registryErrorCode(response);
        if (isTag && this.#tagDelete !== false) return 'unsupported';
        throw new DeleteDisabledError(
          this.url,
          deleteDisabledAdvice(this.host, code, this.platform),
        );
      }
      if (isTag && status === 400) {
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
  getBlob(
    repository: string,
    digest: string,
    limit: number,
    options: RequestOptions = {},
  ): Promise<Uint8Array | undefined> {
    return getBlob(this.#endpoints, repository, digest, limit, options);
  }

  /** Whether the repository has the blob (`HEAD /v2/<repository>/blobs/<digest>`). */
  hasBlob(repository: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
    return hasBlob(this.#endpoints, repository, digest, options);
  }

  /** Uploads a small blob unless the repository already has it; returns its digest. */
  ensureBlob(repository: string, bytes: Uint8Array, options: RequestOptions = {}): Promise<string> {
    return ensureBlob(this.#endpoints, repository, bytes, options);
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
    const list = await listReferrers(this.#endpoints, repository, digest, scope, options);
    this.#referrersApi = list !== undefined;
    return list;
  }

  /** Whether the registry has a referrers API (`undefined` until probed). */
  get referrersApi(): boolean | undefined {
    return this.#referrersApi;
  }

  #call(endpoint: Endpoint): Promise<Sent> {
    const { target, ...call } = endpoint;
    return this.#auth.call({
      ...call,
      url: this.#absolute(target),
      describe: this.#describe(target),
    });
  }

  #expect(response: Response, ok: number[], method: string, target: string, scope: string) {
    return expectStatus(response, ok, {
      method,
      url: this.#describe(target),
      scope,
      registry: this.url,
      host: this.host,
      platform: this.platform,
    });
  }

  #absolute(target: string): string {
    return /^https?:\/\//.test(target) ? target : `${this.url}/${target}`;
  }

  /** A URL for messages: never holds credentials (requests carry them only in headers). */
  #describe(target: string): string {
    const url = new URL(this.#absolute(target));
    url.username = '';
    url.password = '';
    return url.toString();
  }
}
