import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * Credentials would have gone somewhere they must not: a token realm over plain HTTP on a
 * non-loopback host, or a host other than the registry's. Nothing was sent.
 */
export class InsecureCredentialsError extends RegpruneError {
  declare readonly code: 'INSECURE_CREDENTIALS';
  /** Where the credentials would have gone (no credentials in it). */
  readonly url: string;

  constructor(url: string, why: string) {
    super(
      'INSECURE_CREDENTIALS',
      `refusing to send credentials to ${url}: ${why}; use HTTPS for the registry and its token service (plain HTTP is allowed only on loopback)`,
    );
    this.url = url;
  }
}
