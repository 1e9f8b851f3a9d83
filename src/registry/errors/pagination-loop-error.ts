import { RegpruneError } from '../../core/errors/regprune-error.js';

/** A `Link: rel="next"` chain came back to a page already read (or ran past the page cap). */
export class PaginationLoopError extends RegpruneError {
  readonly url: string;

  constructor(url: string, why: string) {
    super(
      'PAGINATION_LOOP',
      `paging through ${url}: ${why}; the registry's Link headers are broken — report it to the registry's operator`,
    );
    this.url = url;
  }
}
