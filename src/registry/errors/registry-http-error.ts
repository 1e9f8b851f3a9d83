import { RegistryResponseError } from './registry-response-error.js';

/**
 * The registry answered a request with an unexpected HTTP status (after any retries). `url` never
 * holds credentials: requests carry them only in headers. `retryable` for 408, 429 and 5xx.
 */
export class RegistryHttpError extends RegistryResponseError {
  declare readonly code: 'REGISTRY_HTTP';
  readonly method: string;
  readonly url: string;
  /** The first OCI error code of the body (e.g. `MANIFEST_UNKNOWN`), when there was one. */
  readonly registryCode: string | undefined;

  constructor(
    status: number,
    method: string,
    url: string,
    registryCode: string | undefined,
    hint = '',
  ) {
    super(
      'REGISTRY_HTTP',
      `${method} ${url} answered HTTP ${status}${registryCode ? ` ${registryCode}` : ''}${hint ? `; ${hint}` : ''}`,
      status,
      status === 408 || status === 429 || (status >= 500 && status <= 599),
    );
    this.method = method;
    this.url = url;
    this.registryCode = registryCode;
  }
}
