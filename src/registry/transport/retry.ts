import { HTTPError, isTimeoutError, type RetryOptions as KyRetryOptions } from 'ky';
import { RegpruneError } from '../../core/errors/regprune-error.js';
import type { RetryOptions } from '../types.js';

/**
 * The one retry policy of a {@link RegistryClient}, carried out by ky's retry: every request
 * (registry, redirect targets, token service) and the read of its body is retried on a network
 * error, a deadline passed, or a transient status, with exponential backoff or the server's
 * `Retry-After`.
 */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  limit: number;
  /** First backoff delay in ms, doubled per retry. */
  baseDelay: number;
  /** Longest single wait in ms; a longer `Retry-After` fails at once. */
  maxDelay: number;
}

/** Statuses that mean "try again" for any request: rate limited, or a gateway in trouble. */
export const TRANSIENT_STATUSES: readonly number[] = [429, 502, 503, 504];

/**
 * Distribution 2.8 answers 500 UNKNOWN now and then when deletes and tag writes in one repository
 * overlap (its tag scan races them); a DELETE by digest is idempotent, so that 500 is transient too.
 */
export const TRANSIENT_DIGEST_DELETE: readonly number[] = [...TRANSIENT_STATUSES, 500];

/** The policy from the client's `retry` option (a count or {@link RetryOptions}), with defaults. */
export function retryPolicy(option: RetryOptions | number | undefined): RetryPolicy {
  const retry = typeof option === 'number' ? { limit: option } : (option ?? {});
  return {
    limit: retry.limit ?? 4,
    baseDelay: retry.baseDelay ?? 250,
    maxDelay: retry.maxDelay ?? 30_000,
  };
}

/** Seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The wait a transient answer asks for, when its `Retry-After` is over the policy's `maxDelay`. */
export function overlongRetryAfter(policy: RetryPolicy, response: Response): number | undefined {
  const after = retryAfterMs(response.headers.get('retry-after'));
  return after !== undefined && after > policy.maxDelay ? after : undefined;
}

/**
 * ky's retry options for one request. `shouldRetry` decides every retry (so ky's own status,
 * method and header rules never apply) and `delay` returns the wait it chose: the answer's
 * `Retry-After` when it has a readable one, else `baseDelay · 2^(retry − 1)`, capped at
 * `maxDelay` (ky's `backoffLimit`). Only transient statuses reach ky as errors (its
 * `throwHttpErrors` throws only for the request's transient statuses); typed regprune errors and
 * aborts are final.
 */
export function kyRetry(policy: RetryPolicy, signal: AbortSignal | undefined): KyRetryOptions {
  let wait: number | undefined;
  return {
    limit: policy.limit,
    methods: ['get', 'head', 'put', 'post', 'delete'],
    backoffLimit: policy.maxDelay,
    delay: (retry) => wait ?? policy.baseDelay * 2 ** (retry - 1),
    retryOnTimeout: true,
    shouldRetry: ({ error }) => {
      wait = undefined;
      if (signal?.aborted || error instanceof RegpruneError) return false;
      if (error instanceof HTTPError) {
        if (overlongRetryAfter(policy, error.response) !== undefined) return false;
        wait = retryAfterMs(error.response.headers.get('retry-after'));
      }
      return true;
    },
  };
}

/** Whether ky's error is an attempt that ran out of time (before or while reading the body). */
export function isDeadline(error: unknown): boolean {
  return isTimeoutError(error) || (error instanceof Error && error.name === 'TimeoutError');
}
