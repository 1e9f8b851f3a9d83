import ky, { HTTPError, type KyInstance } from 'ky';
import { RegpruneError } from '../../core/errors/regprune-error.js';
import { RegistryUnreachableError } from '../errors/registry-unreachable-error.js';
import { exhaustedError } from '../http-errors.js';
import { type Deadline, DeadlineExceeded, readLimited, setDeadline } from './limits.js';
import { followingRedirects } from './redirects.js';
import {
  isDeadline,
  kyRetry,
  overlongRetryAfter,
  type RetryPolicy,
  TRANSIENT_STATUSES,
} from './retry.js';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

/** One logical request, as the transport sends it (every attempt and redirect hop of it). */
export interface SendRequest {
  method: Method;
  /** Absolute URL. */
  url: string;
  /** The URL for messages (no credentials). */
  describe: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
  /** `Authorization` header value, sent only to `credentialOrigin`. */
  authorization?: string;
  /** Default: the registry's origin. */
  credentialOrigin?: string;
  /** Follow redirects. Default: yes, except for PUT and POST. */
  follow?: boolean;
  /**
   * Read a 2xx body of at most this many bytes within the attempt, so a body cut short or too
   * slow is retried like a failed request.
   */
  read?: number;
  /** Statuses retried for this request. Default {@link TRANSIENT_STATUSES}. */
  transient?: readonly number[];
}

/** An answer, the URL that gave it (after redirects) and, when asked for, its body. */
export interface Sent {
  response: Response;
  from: URL;
  /** With `read`: the 2xx body; `undefined` when it is over the limit or the status is not 2xx. */
  bytes?: Uint8Array;
}

export interface TransportOptions {
  /** The registry's origin: the default and only origin credentials go to. */
  origin: string;
  /** Deadline in ms of one attempt, body included. */
  timeout: number;
  retry: RetryPolicy;
  userAgent: string;
  fetch: typeof globalThis.fetch | undefined;
}

/** Per-request state the ky hooks share. */
interface Attempts {
  count: number;
  deadline: Deadline;
  from: URL;
  bytes: Uint8Array | undefined;
}

/**
 * Sends requests with ky: one retry policy ({@link kyRetry}), a deadline per attempt that covers
 * its redirect hops and the read of its body, redirects under the origin rule
 * ({@link followingRedirects}). Statuses other than the transient ones are returned, not thrown:
 * what they mean depends on the endpoint ({@link expectStatus}).
 */
export class Transport {
  readonly #options: TransportOptions;
  readonly #ky: KyInstance;
  readonly #fetch: typeof globalThis.fetch;
  #requests = 0;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#ky = ky.create({
      timeout: options.timeout,
      redirect: 'manual',
      headers: { 'user-agent': options.userAgent },
    });
  }

  /** Attempts sent so far (redirect hops are part of their attempt). */
  get requestCount(): number {
    return this.#requests;
  }

  /**
   * The fetch of one attempt, given to ky: the redirect hops, then with `read` the body, so that
   * ky's timeout and retry cover all of it.
   */
  #attempt(request: SendRequest, state: Attempts): typeof globalThis.fetch {
    const hops = followingRedirects(this.#fetch, {
      follow: request.follow ?? !(request.method === 'PUT' || request.method === 'POST'),
      credentialOrigin: request.credentialOrigin ?? this.#options.origin,
      describe: request.describe,
      answeredBy: (url) => {
        state.from = url;
      },
    });
    const limit = request.read;
    if (limit === undefined) return hops;
    return (async (input: Request, init?: RequestInit) => {
      const response = await hops(input, init);
      if (response.status < 200 || response.status > 299) return response;
      state.bytes = await readLimited(response, limit, state.deadline);
      return new Response(null, { status: response.status, headers: response.headers });
    }) as typeof globalThis.fetch;
  }

  /**
   * Sends `request`, retrying per the policy.
   * @throws {RegistryHttpError} a transient status when the retries ran out.
   *   {@link RegistryUnreachableError} no answer (network error, deadline) after every attempt.
   */
  async send(request: SendRequest): Promise<Sent> {
    const { timeout, retry } = this.#options;
    const transient = new Set(request.transient ?? TRANSIENT_STATUSES);
    const state: Attempts = {
      count: 0,
      deadline: { at: 0, ms: timeout },
      from: new URL(request.url),
      bytes: undefined,
    };
    const headers = { ...request.headers };
    if (request.authorization) headers.authorization = request.authorization;
    let response: Response;
    try {
      response = await this.#ky(request.url, {
        method: request.method,
        headers,
        body: request.body,
        signal: request.signal,
        throwHttpErrors: (status) => transient.has(status),
        retry: kyRetry(retry, request.signal),
        fetch: this.#attempt(request, state),
        hooks: {
          beforeRequest: [
            () => {
              this.#requests++;
              state.count++;
              state.bytes = undefined;
              state.deadline = { at: Date.now() + timeout, ms: timeout };
            },
          ],
          beforeRetry: [
            async ({ error }) => {
              if (error instanceof HTTPError) await error.response.body?.cancel();
            },
          ],
        },
      });
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      if (error instanceof RegpruneError) throw error;
      if (error instanceof HTTPError) {
        const wait = overlongRetryAfter(retry, error.response);
        setDeadline(error.response, state.deadline);
        throw await exhaustedError(
          error.response,
          request.method,
          request.describe,
          state.count,
          wait === undefined ? undefined : { wait, maxDelay: retry.maxDelay },
        );
      }
      const failure = isDeadline(error) ? new DeadlineExceeded(timeout) : error;
      throw new RegistryUnreachableError(
        request.method,
        request.describe,
        state.count,
        scrubbed(failure),
      );
    }
    setDeadline(response, state.deadline);
    return { response, from: state.from, bytes: state.bytes };
  }
}

/**
 * A copy of a transport error that keeps only names, messages and codes down its cause chain.
 * Errors from fetch/ky carry the Request (with its Authorization header) and options; a logger
 * that inspects the error would print them.
 */
export function scrubbed(error: unknown, depth = 0): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const cause =
    depth < 5 && error.cause !== undefined ? scrubbed(error.cause, depth + 1) : undefined;
  const copy = new Error(error.message, cause ? { cause } : undefined);
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });
  return copy;
}
