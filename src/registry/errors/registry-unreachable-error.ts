import { RegpruneError } from '../../core/errors/regprune-error.js';

/** The registry could not be reached (connection refused or reset, timeout) after every retry. */
export class RegistryUnreachableError extends RegpruneError {
  readonly method: string;
  readonly url: string;
  readonly attempts: number;

  constructor(method: string, url: string, attempts: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      'REGISTRY_UNREACHABLE',
      `${method} ${url} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${why}; check that the registry is running and reachable, or raise the retry/timeout options`,
      { cause },
    );
    this.method = method;
    this.url = url;
    this.attempts = attempts;
  }
}
