import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * A `Link: rel="next"` chain is broken: it came back to a page already read, ran past the page
 * cap, or leads to another origin than the registry's (never followed).
 */
export class PaginationLoopError extends RegpruneError {
  declare readonly code: 'PAGINATION_LOOP';
  readonly url: string;

  constructor(url: string, why: string) {
    super(
      'PAGINATION_LOOP',
      `paging through ${url}: ${why}; the registry's Link headers are broken — report it to the registry's operator`,
    );
    this.url = url;
  }
}
