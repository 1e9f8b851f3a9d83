import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * The registry answered a request with an unexpected HTTP status (after any retries). `url` never
 * holds credentials: requests carry them only in headers.
 */
export class RegistryHttpError extends RegpruneError {
  readonly status: number;
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
    );
    this.status = status;
    this.method = method;
    this.url = url;
    this.registryCode = registryCode;
  }
}
