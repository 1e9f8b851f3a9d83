import { isRepositoryGlob, repositorySelector } from '../../core/oci/repository-glob.js';
import { AuthError } from '../errors/auth-error.js';
import { DeleteRefusedError } from '../errors/delete-refused-error.js';
import { MalformedResponseError } from '../errors/malformed-response-error.js';
import { PlatformInputError } from '../errors/platform-input-error.js';
import { isDigest } from '../reference.js';
import { GitHubApi, messageOf, SCOPE_ADVICE, sleep } from './github-api.js';
import type { PlatformRequestOptions, PlatformVersion, RegistryPlatform } from './types.js';

/** Options of {@link GhcrPlatform}. */
export interface GhcrPlatformOptions {
  /**
   * Base URL of the GitHub REST API. Default `https://api.github.com`; GitHub Enterprise Server:
   * `https://HOST/api/v3`.
   */
  apiUrl?: string;
  /**
   * The token (personal access token (classic) with `read:packages`, plus `delete:packages` to
   * delete and `write:packages` to restore; or GitHub Actions' `GITHUB_TOKEN`). Default: none
   * (public packages can be listed only with a token, so loading fails with an `AuthError`).
   */
  token?: string;
  /** Most API requests started per second. Default: no cap (GitHub's limits still apply). */
  requestsPerSecond?: number;
  /**
   * Longest wait in ms for a rate limit to reset (primary limit, `retry-after`); a longer one
   * fails with `RateLimitError`. Default 900000 (15 minutes).
   */
  maxRateLimitWait?: number;
  /**
   * First wait in ms after a secondary rate limit that names no `retry-after`, doubled per retry.
   * Default 60000 (GitHub: "wait for at least one minute").
   */
  secondaryRateLimitWait?: number;
  /** Retries of a rate-limited or failed request. Default 4. */
  retries?: number;
  /** Deadline in ms of one attempt, body included. Default 30000. */
  timeout?: number;
  /** A `fetch` implementation. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

/** GitHub's answer for one package version (fields regprune reads). */
interface VersionBody {
  id?: unknown;
  name?: unknown;
  created_at?: unknown;
  updated_at?: unknown;
  metadata?: { container?: { tags?: unknown } };
}

type Namespace = { kind: 'org' | 'user' | 'authenticated'; prefix: string };

/** The owner (first path segment) and the package name (the rest) of a repository. */
function splitRepository(repository: string): { owner: string; pkg: string } {
  const slash = repository.indexOf('/');
  if (slash <= 0)
    throw new PlatformInputError(
      repository,
      'a ghcr.io repository is OWNER/PACKAGE (e.g. my-org/app)',
    );
  return { owner: repository.slice(0, slash), pkg: repository.slice(slash + 1) };
}

/**
 * GitHub Container Registry (ghcr.io, and GitHub Enterprise Server's container registry) through
 * the GitHub Packages REST API: lists every version of a container package (untagged ones too)
 * with its tags, `created_at` and `updated_at`; deletes versions (`DELETE …/versions/{id}`) and
 * restores them (`POST …/versions/{id}/restore`, within 30 days). Owners are organizations
 * (`/orgs/{org}`), the authenticated user (`/user`) or other users (`/users/{user}`), found once per
 * owner with `GET /users/{owner}`. Nested package names are URL-encoded (`a/b` → `a%2Fb`).
 *
 * @example
 * ```ts
 * const client = new RegistryClient({
 *   url: 'https://ghcr.io',
 *   auth: { username: 'me', password: token },
 *   // chosen by itself for ghcr.io; for GitHub Enterprise Server:
 *   platform: new GhcrPlatform({ apiUrl: 'https://github.example.com/api/v3', token }),
 * });
 * ```
 */
export class GhcrPlatform implements RegistryPlatform {
  readonly name = 'ghcr';
  readonly deleteAdvice =
    `The GitHub Container Registry does not accept OCI deletes; regprune deletes through the GitHub Packages API instead, which needs a token with delete:packages: ${SCOPE_ADVICE}`;
  readonly #api: GitHubApi;
  readonly #namespaces = new Map<string, Promise<Namespace>>();
  #login: Promise<string | undefined> | undefined;
  /** `repo@digest` → version id, from the last listing of each repository. */
  readonly #ids = new Map<string, string>();

  constructor(options: GhcrPlatformOptions = {}) {
    this.#api = new GitHubApi({ ...options, apiUrl: options.apiUrl ?? 'https://api.github.com' });
  }

  get apiUrl(): string {
    return this.#api.apiUrl;
  }

  /** API requests sent so far. */
  get requestCount(): number {
    return this.#api.requestCount;
  }

  async listRepositories(
    patterns: readonly string[],
    options: PlatformRequestOptions = {},
  ): Promise<string[]> {
    if (patterns.length === 0)
      throw new PlatformInputError(
        '',
        'GitHub keeps no catalog of every package: name the repositories or an owner, e.g. `repositories: ["my-org/**"]` (CLI: --repo \'my-org/**\')',
      );
    const owners = new Set<string>();
    for (const pattern of patterns) {
      const owner = pattern.split('/')[0] ?? '';
      if (!owner || isRepositoryGlob(owner))
        throw new PlatformInputError(
          pattern,
          'on ghcr.io a repository pattern starts with a literal owner (e.g. my-org/**): GitHub lists packages per owner, there is no catalog of every owner',
        );
      owners.add(owner);
    }
    const selects = repositorySelector(patterns);
    const out = new Set<string>();
    for (const owner of [...owners].sort()) {
      const ns = await this.#namespace(owner, options.signal);
      const list = await this.#api.pages<{ name?: unknown }>(
        `${ns.prefix}/packages?package_type=container&per_page=100`,
        'read:packages',
        options.signal,
      );
      for (const item of list ?? []) {
        if (typeof item.name !== 'string') continue;
        const name = `${owner}/${item.name}`;
        if (selects(name)) out.add(name);
      }
    }
    return [...out].sort();
  }

  async listVersions(
    repository: string,
    options: PlatformRequestOptions = {},
  ): Promise<PlatformVersion[]> {
    return this.#versions(repository, 'active', options.signal);
  }

  async deleteVersion(
    repository: string,
    digest: string,
    options: PlatformRequestOptions = {},
  ): Promise<'deleted' | 'missing'> {
    const id = await this.#idOf(repository, digest, options.signal);
    if (id === undefined) return 'missing';
    const path = await this.#versionPath(repository, id, options.signal);
    let answer = await this.#api.request('DELETE', path, 'delete:packages', options.signal);
    if (answer.status === 500) {
      // Sent once more (502-504 were retried already): a version DELETE is idempotent, and a 404
      // now means the first went through before its error.
      await sleep(250, options.signal);
      answer = await this.#api.request('DELETE', path, 'delete:packages', options.signal);
      if (answer.status === 404) {
        this.#ids.delete(`${repository}@${digest}`);
        return 'deleted';
      }
    }
    if (answer.status === 204 || answer.status === 200) {
      this.#ids.delete(`${repository}@${digest}`);
      return 'deleted';
    }
    if (answer.status === 404) return 'missing';
    const message = messageOf(answer.body);
    // GitHub documents the refusal but not its answer's shape: any other 4xx whose message names
    // the download limit, or the last version of a package, is that one version's refusal.
    if (answer.status >= 400 && answer.status < 500 && /5,?000 downloads/i.test(message))
      throw new DeleteRefusedError(
        `${repository}@${digest}`,
        `GitHub does not delete a version of a public package downloaded more than 5,000 times ("${message}"); ask GitHub Support, or keep it`,
      );
    if (answer.status >= 400 && answer.status < 500 && /last (tagged )?version/i.test(message))
      throw new DeleteRefusedError(
        `${repository}@${digest}`,
        `GitHub does not delete the last version of a package ("${message}"); delete the whole package on GitHub if it is to go`,
      );
    // Not sent again to get the error: a DELETE that went through before its error answers 404.
    this.#api.check(answer, 'DELETE', path, [204]);
    return 'deleted';
  }

  async restoreVersion(
    repository: string,
    digest: string,
    options: PlatformRequestOptions = {},
  ): Promise<'restored' | 'missing'> {
    const deleted = await this.#versions(repository, 'deleted', options.signal);
    const version = deleted.find((v) => v.digest === digest);
    if (!version) return 'missing';
    const path = `${await this.#versionPath(repository, version.id, options.signal)}/restore`;
    await this.#api.expect('POST', path, 'write:packages', [204, 200], options.signal);
    return 'restored';
  }

  async probeDelete(repository: string, options: PlatformRequestOptions = {}): Promise<void> {
    await this.listVersions(repository, options);
    // A classic token names its scopes (x-oauth-scopes); other tokens are found out by the DELETE.
    const scopes = this.#api.scopes;
    if (scopes && !scopes.includes('delete:packages')) {
      throw new AuthError(
        403,
        this.#api.url(
          `/…/packages/container/${encodeURIComponent(splitRepository(repository).pkg)}/versions`,
        ),
        'delete:packages',
        `the token's scopes are ${scopes.join(', ') || 'none'}; nothing was deleted`,
        SCOPE_ADVICE,
      );
    }
  }

  describeDelete(repository: string, digest: string): string {
    const { owner, pkg } = splitRepository(repository);
    const id = this.#ids.get(`${repository}@${digest}`) ?? `<id of ${digest}>`;
    const ns = this.#known(owner);
    return `DELETE ${this.#api.url(`${ns}/packages/container/${encodeURIComponent(pkg)}/versions/${id}`)}`;
  }

  /** The namespace prefix of `owner` if already looked up, else a readable placeholder. */
  #known(owner: string): string {
    const cached = this.#resolved.get(owner);
    return cached ?? `/{orgs|users}/${owner}`;
  }

  readonly #resolved = new Map<string, string>();

  async #versions(
    repository: string,
    state: 'active' | 'deleted',
    signal?: AbortSignal,
  ): Promise<PlatformVersion[]> {
    const { owner, pkg } = splitRepository(repository);
    const ns = await this.#namespace(owner, signal);
    const first = `${ns.prefix}/packages/container/${encodeURIComponent(pkg)}/versions?per_page=100&state=${state}`;
    const list = await this.#api.pages<VersionBody>(first, 'read:packages', signal);
    // A package the OCI API serves but the token cannot see answers 404: that is no list.
    if (list === undefined)
      throw new MalformedResponseError(
        'GET',
        this.#api.url(first),
        `GitHub knows no container package ${pkg} of ${owner} (404), or the token may not see it; ${SCOPE_ADVICE}`,
      );
    const out: PlatformVersion[] = [];
    for (const item of list) {
      const id = typeof item.id === 'number' || typeof item.id === 'string' ? String(item.id) : '';
      const digest = typeof item.name === 'string' ? item.name : '';
      // Versions of other package kinds, or not named by a digest, hold nothing to clean.
      if (!id || !isDigest(digest)) continue;
      const rawTags = item.metadata?.container?.tags;
      const tags = Array.isArray(rawTags)
        ? rawTags.filter((t): t is string => typeof t === 'string')
        : [];
      const version: PlatformVersion = { id, digest, tags };
      if (typeof item.created_at === 'string') version.createdAt = item.created_at;
      if (typeof item.updated_at === 'string') version.updatedAt = item.updated_at;
      if (state === 'active') this.#ids.set(`${repository}@${digest}`, id);
      out.push(version);
    }
    return out;
  }

  /** The version id of `digest`, from the last listing or (once) a fresh one. */
  async #idOf(
    repository: string,
    digest: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const key = `${repository}@${digest}`;
    const known = this.#ids.get(key);
    if (known) return known;
    // Pushed since the last listing (a placeholder of an untag): list again.
    await this.#versions(repository, 'active', signal);
    return this.#ids.get(key);
  }

  async #versionPath(repository: string, id: string, signal?: AbortSignal): Promise<string> {
    const { owner, pkg } = splitRepository(repository);
    const ns = await this.#namespace(owner, signal);
    return `${ns.prefix}/packages/container/${encodeURIComponent(pkg)}/versions/${encodeURIComponent(id)}`;
  }

  /** Organization, the token's own user, or another user: `GET /users/{owner}` says which. */
  #namespace(owner: string, signal?: AbortSignal): Promise<Namespace> {
    let ns = this.#namespaces.get(owner);
    if (!ns) {
      ns = (async (): Promise<Namespace> => {
        const answer = await this.#api.expect(
          'GET',
          `/users/${encodeURIComponent(owner)}`,
          'read:packages',
          [200],
          signal,
        );
        const type = (answer.body as { type?: unknown } | undefined)?.type;
        let found: Namespace;
        if (type === 'Organization')
          found = { kind: 'org', prefix: `/orgs/${encodeURIComponent(owner)}` };
        else if ((await this.#ownLogin(signal))?.toLowerCase() === owner.toLowerCase())
          found = { kind: 'authenticated', prefix: '/user' };
        else found = { kind: 'user', prefix: `/users/${encodeURIComponent(owner)}` };
        this.#resolved.set(owner, found.prefix);
        return found;
      })();
      this.#namespaces.set(owner, ns);
      ns.catch(() => this.#namespaces.delete(owner));
    }
    return ns;
  }

  /** The login of the token's user (`GET /user`), or undefined for a token that has none. */
  #ownLogin(signal?: AbortSignal): Promise<string | undefined> {
    this.#login ??= this.#api.request('GET', '/user', 'read:packages', signal).then(
      (answer) => {
        const login = (answer.body as { login?: unknown } | undefined)?.login;
        return answer.status === 200 && typeof login === 'string' ? login : undefined;
      },
      () => undefined,
    );
    return this.#login;
  }
}
