import { RegpruneError } from '../../core/errors/regprune-error.js';
import type { RegistryErrorCode } from './codes.js';

/**
 * Base of the errors that stand for an answer of the registry (or its token service): the HTTP
 * `status` it gave, and whether the same request may succeed later (`retryable`: rate limited,
 * or a server or gateway error) or not (refused access, a client error). Catch this class to
 * handle every refused or failed answer in one place.
 */
export abstract class RegistryResponseError extends RegpruneError {
  declare readonly code: RegistryErrorCode;
  /** The HTTP status of the answer (310 for a redirect chain that never ended). */
  readonly status: number;
  /** Whether sending the same request later may succeed. */
  readonly retryable: boolean;

  constructor(
    code: RegistryErrorCode,
    message: string,
    status: number,
    retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.status = status;
    this.retryable = retryable;
  }
}
