import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * A registry answer (tag list, catalog page, token) is not the JSON it should be, or is larger
 * than regprune reads. Nothing is planned or changed from it.
 */
export class MalformedResponseError extends RegpruneError {
  declare readonly code: 'MALFORMED_RESPONSE';
  readonly method: string;
  readonly url: string;

  constructor(method: string, url: string, problem: string) {
    super(
      'MALFORMED_RESPONSE',
      `${method} ${url}: ${problem}; the registry or a proxy in between sent something broken — check it, then try again`,
    );
    this.method = method;
    this.url = url;
  }
}
