import { AuthError } from './errors/auth-error.js';
import { DeleteDisabledError } from './errors/delete-disabled-error.js';
import { MalformedResponseError } from './errors/malformed-response-error.js';
import { RegistryHttpError } from './errors/registry-http-error.js';
import { authAdvice, deleteDisabledAdvice } from './platform/advice.js';
import type { RegistryPlatform } from './platform/types.js';
import { ERROR_LIMIT, readLimited } from './transport/limits.js';

/** The first OCI error code of an error body (`{"errors":[{"code":…}]}`), if it has one. */
export async function registryErrorCode(response: Response): Promise<string | undefined> {
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

/** What a request was, for the error its answer maps to. */
export interface Asked {
  method: string;
  /** The URL, without credentials. */
  url: string;
  /** The token scope the request needed (`''` for none). */
  scope: string;
  /** The registry URL (named by {@link DeleteDisabledError}). */
  registry: string;
  /** The registry's host and platform, for advice where they have their own rules. */
  host: string;
  platform: RegistryPlatform | undefined;
}

/**
 * Maps an answer whose status is not in `ok` to its typed error: 401/403 → {@link AuthError},
 * 405 UNSUPPORTED on a DELETE → {@link DeleteDisabledError}, anything else →
 * {@link RegistryHttpError} with the body's OCI error code.
 */
export async function expectStatus(response: Response, ok: number[], asked: Asked): Promise<void> {
  if (ok.includes(response.status)) return;
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new AuthError(
      response.status,
      `${asked.method} ${asked.url}`,
      asked.scope || undefined,
      '',
      authAdvice(asked.host, asked.method),
    );
  }
  const code = await registryErrorCode(response);
  if (response.status === 405 && code === 'UNSUPPORTED' && asked.method === 'DELETE')
    throw new DeleteDisabledError(
      asked.registry,
      deleteDisabledAdvice(asked.host, code, asked.platform),
    );
  throw new RegistryHttpError(response.status, asked.method, asked.url, code);
}

/**
 * The error for a transient status (429, 5xx) still answered when the retries ran out, or at once
 * when its `Retry-After` asks for more than `maxDelay`.
 */
export async function exhaustedError(
  response: Response,
  method: string,
  url: string,
  attempts: number,
  overlong: { wait: number; maxDelay: number } | undefined,
): Promise<RegistryHttpError> {
  const code = await registryErrorCode(response);
  const why = overlong
    ? ` (Retry-After asks for ${Math.round(overlong.wait / 1000)} s, over the ${Math.round(overlong.maxDelay / 1000)} s limit)`
    : '';
  const hint = `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}${why}; try again later`;
  return new RegistryHttpError(response.status, method, url, code, hint);
}

/** Bytes holding a JSON object. @throws {MalformedResponseError} */
export function parseJsonObject(
  bytes: Uint8Array,
  method: string,
  url: string,
): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new MalformedResponseError(method, url, 'the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new MalformedResponseError(method, url, 'the body is not a JSON object');
  return body as Record<string, unknown>;
}
