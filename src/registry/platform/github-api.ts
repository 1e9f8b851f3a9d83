import { assertSafeForCredentials } from '../auth/credentials.js';
import { AuthError } from '../errors/auth-error.js';
import { MalformedResponseError } from '../errors/malformed-response-error.js';
import { PaginationLoopError } from '../errors/pagination-loop-error.js';
import { RateLimitError } from '../errors/rate-limit-error.js';
import { RegistryHttpError } from '../errors/registry-http-error.js';
import { RegistryUnreachableError } from '../errors/registry-unreachable-error.js';
import { nextLink } from '../link.js';
import type { GhcrPlatformOptions } from './ghcr.js';

/**
 * Options of the GitHub REST API transport: {@link GhcrPlatformOptions}, documented there, with
 * the API base resolved.
 */
export type GitHubApiOptions = Omit<GhcrPlatformOptions, 'apiUrl'> & {
  apiUrl: string;
  userAgent?: string;
};

/** One answer: status, headers and the JSON body (undefined when empty). */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Largest API answer read (one page of 100 versions is a few tens of KiB). */
const BODY_LIMIT = 32 * 1024 * 1024;
const MAX_PAGES = 10_000;

/** What a request needs, named in auth errors. */
export type TokenScope = 'read:packages' | 'delete:packages' | 'write:packages';

export const SCOPE_ADVICE =
  'use a personal access token (classic) with read:packages (to list), delete:packages (to delete) and write:packages (to restore), e.g. `printf %s "$TOKEN" | regprune … --username USER --password-stdin` or GITHUB_TOKEN; in GitHub Actions, GITHUB_TOKEN needs `permissions: packages: write` and the workflow repository needs admin access to the package (package settings, "Manage Actions access")';

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
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

/** The message of a GitHub error body (`{"message": …}`), if any. */
export function messageOf(body: unknown): string {
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : '';
}

/**
 * A small client of GitHub's REST API, following GitHub's documented rules: primary rate limit
 * (`x-ratelimit-remaining` 0 → wait until `x-ratelimit-reset`), secondary limits (403/429 with
 * `retry-after`, else at least a minute, growing), an optional requests-per-second cap, bounded
 * bodies and a deadline per attempt. The token goes only to the API's own origin.
 */
export class GitHubApi {
  readonly apiUrl: string;
  readonly #origin: string;
  readonly #token: string | undefined;
  readonly #interval: number;
  readonly #maxWait: number;
  readonly #secondaryWait: number;
  readonly #retries: number;
  readonly #timeout: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #userAgent: string;
  /** Sends are paced through this chain (requests-per-second cap, primary limit exhausted). */
  #pace: Promise<void> = Promise.resolve();
  #lastStart = 0;
  /** Epoch ms before which nothing is sent (the primary limit ran out). */
  #blockedUntil = 0;
  #requests = 0;
  /** Scopes of a classic token (`x-oauth-scopes`), once an answer named them. */
  scopes: string[] | undefined;

  constructor(options: GitHubApiOptions) {
    let base: URL;
    try {
      base = new URL(options.apiUrl);
    } catch {
      throw new TypeError(`GhcrPlatform: apiUrl ${JSON.stringify(options.apiUrl)} is not a URL`);
    }
    if (options.token) assertSafeForCredentials(base);
    this.apiUrl = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
    this.#origin = base.origin;
    this.#token = options.token;
    const rps = options.requestsPerSecond;
    if (rps !== undefined && !(rps > 0))
      throw new TypeError(`GhcrPlatform: requestsPerSecond must be above 0, got ${rps}`);
    this.#interval = rps ? 1000 / rps : 0;
    this.#maxWait = options.maxRateLimitWait ?? 15 * 60_000;
    this.#secondaryWait = options.secondaryRateLimitWait ?? 60_000;
    this.#retries = options.retries ?? 4;
    this.#timeout = options.timeout ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#userAgent = options.userAgent ?? 'regprune';
  }

  /** Requests sent so far (retries included). */
  get requestCount(): number {
    return this.#requests;
  }

  /** `path` below the API base, as a full URL. */
  url(path: string): string {
    return `${this.apiUrl}${path}`;
  }

  /**
   * One request with rate-limit handling. Answers other than 401/403-refusals and rate limits are
   * returned as they are (the caller decides what a 404 means).
   * @throws {AuthError} on 401, and on a 403 that is not a rate limit (naming `scope`).
   * @throws {RateLimitError} when a limit would need a longer wait than `maxRateLimitWait`.
   */
  async request(
    method: 'GET' | 'DELETE' | 'POST',
    target: string,
    scope: TokenScope,
    signal?: AbortSignal,
  ): Promise<ApiAnswer> {
    const url = /^https?:\/\//.test(target) ? target : this.url(target);
    if (new URL(url).origin !== this.#origin)
      throw new MalformedResponseError(
        method,
        url,
        `points outside the API ${this.#origin}; regprune sends the token only there`,
      );
    for (let attempt = 0; ; attempt++) {
      await this.#paced(signal);
      let answer: ApiAnswer;
      try {
        answer = await this.#send(method, url, signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof MalformedResponseError) throw error;
        if (attempt >= this.#retries)
          throw new RegistryUnreachableError(method, url, attempt + 1, error as Error);
        await sleep(250 * 2 ** attempt, signal);
        continue;
      }
      const { status, headers, body } = answer;
      this.#noteLimit(headers);
      const oauth = headers.get('x-oauth-scopes');
      if (oauth !== null)
        this.scopes = oauth
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      if (status === 401)
        throw new AuthError(
          401,
          `${method} ${url}`,
          scope,
          `GitHub answered "${messageOf(body) || 'Bad credentials'}"`,
          SCOPE_ADVICE,
        );
      if (status === 403 || status === 429) {
        const wait = this.#rateLimitWait(status, headers, body, attempt);
        if (wait === undefined) {
          const has = this.scopes
            ? ` (the token has: ${this.scopes.join(', ') || 'no scopes'})`
            : '';
          throw new AuthError(
            403,
            `${method} ${url}`,
            scope,
            `GitHub answered "${messageOf(body)}"${has}`,
            SCOPE_ADVICE,
          );
        }
        const reset = headers.get('x-ratelimit-reset');
        const resetAt = reset ? new Date(Number(reset) * 1000).toISOString() : undefined;
        if (wait > this.#maxWait)
          throw new RateLimitError(
            `${method} ${url}`,
            `GitHub's rate limit asks for a wait of ${Math.ceil(wait / 1000)} s, over maxRateLimitWait (${Math.round(this.#maxWait / 1000)} s)`,
            resetAt,
          );
        if (attempt >= this.#retries)
          throw new RateLimitError(
            `${method} ${url}`,
            `still rate limited after ${attempt + 1} attempts`,
            resetAt,
          );
        await sleep(wait, signal);
        continue;
      }
      if ((status === 502 || status === 503 || status === 504) && attempt < this.#retries) {
        await sleep(250 * 2 ** attempt, signal);
        continue;
      }
      return answer;
    }
  }

  /** A request that must answer one of `ok`. @throws {RegistryHttpError} otherwise. */
  async expect(
    method: 'GET' | 'DELETE' | 'POST',
    target: string,
    scope: TokenScope,
    ok: number[],
    signal?: AbortSignal,
  ): Promise<ApiAnswer> {
    return this.check(await this.request(method, target, scope, signal), method, target, ok);
  }

  /**
   * `answer` (to `method target`) if its status is one of `ok`.
   * @throws {RegistryHttpError} otherwise, with GitHub's message.
   */
  check(
    answer: ApiAnswer,
    method: 'GET' | 'DELETE' | 'POST',
    target: string,
    ok: number[],
  ): ApiAnswer {
    if (!ok.includes(answer.status))
      throw new RegistryHttpError(
        answer.status,
        method,
        /^https?:\/\//.test(target) ? target : this.url(target),
        undefined,
        messageOf(answer.body) ? `GitHub answered "${messageOf(answer.body)}"` : '',
      );
    return answer;
  }

  /**
   * Every item of a paginated list (`per_page=100`, `Link: rel="next"` on the API's origin).
   * `undefined` when the first page answers 404.
   */
  async pages<T>(first: string, scope: TokenScope, signal?: AbortSignal): Promise<T[] | undefined> {
    const out: T[] = [];
    const seen = new Set<string>();
    let next: string | undefined = this.url(first);
    while (next) {
      if (seen.has(next)) throw new PaginationLoopError(this.url(first), `${next} repeats a page`);
      if (seen.size >= MAX_PAGES)
        throw new PaginationLoopError(this.url(first), `over ${MAX_PAGES} pages`);
      seen.add(next);
      const answer = await this.request('GET', next, scope, signal);
      if (answer.status === 404 && seen.size === 1) return undefined;
      if (answer.status !== 200)
        throw new RegistryHttpError(
          answer.status,
          'GET',
          next,
          undefined,
          messageOf(answer.body) ? `GitHub answered "${messageOf(answer.body)}"` : '',
        );
      if (!Array.isArray(answer.body))
        throw new MalformedResponseError('GET', next, 'the body is not a JSON list');
      out.push(...(answer.body as T[]));
      next = nextLink(answer.headers.get('link'), next);
    }
    return out;
  }

  /** Waits for the requests-per-second cap and for an exhausted primary limit to reset. */
  async #paced(signal?: AbortSignal): Promise<void> {
    const turn = this.#pace.then(async () => {
      const now = Date.now();
      const blocked = this.#blockedUntil - now;
      if (blocked > this.#maxWait)
        throw new RateLimitError(
          this.apiUrl,
          `GitHub's primary rate limit is used up for ${Math.ceil(blocked / 1000)} s, over maxRateLimitWait (${Math.round(this.#maxWait / 1000)} s)`,
          new Date(this.#blockedUntil).toISOString(),
        );
      const wait = Math.max(blocked, this.#lastStart + this.#interval - now, 0);
      if (wait > 0) await sleep(wait, signal);
      this.#lastStart = Date.now();
    });
    // The chain goes on after a failed turn; this caller gets the failure.
    this.#pace = turn.catch(() => undefined);
    await turn;
  }

  /** `x-ratelimit-remaining: 0` blocks every later request until `x-ratelimit-reset`. */
  #noteLimit(headers: Headers): void {
    const remaining = headers.get('x-ratelimit-remaining');
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (remaining === '0' && Number.isFinite(reset) && reset > 0)
      this.#blockedUntil = Math.max(this.#blockedUntil, reset * 1000 + 500);
  }

  /** How long to wait before retrying a 403/429, or `undefined` when it is not a rate limit. */
  #rateLimitWait(
    status: number,
    headers: Headers,
    body: unknown,
    attempt: number,
  ): number | undefined {
    const retryAfter = headers.get('retry-after');
    if (retryAfter && /^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
    if (headers.get('x-ratelimit-remaining') === '0') {
      const reset = Number(headers.get('x-ratelimit-reset'));
      // The pacing waits for the reset; here only the retry is granted.
      if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 + 500 - Date.now());
      return this.#secondaryWait;
    }
    if (status === 429 || /rate limit/i.test(messageOf(body)))
      return this.#secondaryWait * 2 ** attempt;
    return undefined;
  }

  async #send(method: string, url: string, signal?: AbortSignal): Promise<ApiAnswer> {
    this.#requests++;
    const timeout = AbortSignal.timeout(this.#timeout);
    const response = await this.#fetch(url, {
      method,
      redirect: 'error',
      headers: {
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': this.#userAgent,
        ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
      },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const bytes = await readBounded(response, method, url);
    let body: unknown;
    if (bytes.length > 0) {
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        if (response.ok) throw new MalformedResponseError(method, url, 'the body is not JSON');
      }
    }
    return { status: response.status, headers: response.headers, body };
  }
}

async function readBounded(response: Response, method: string, url: string): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    total += value.length;
    if (total > BODY_LIMIT) {
      await reader.cancel();
      throw new MalformedResponseError(method, url, `over ${BODY_LIMIT} bytes`);
    }
    chunks.push(value);
  }
}
