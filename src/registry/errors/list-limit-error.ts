import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * A paginated list (a repository's tags, the catalog, a manifest's referrers) grew past a limit
 * across its pages: `entries` (names or descriptors) or `bytes` (page bodies together). regprune
 * stops rather than read a list that may never end; nothing was planned or changed from it.
 */
export class ListLimitError extends RegpruneError {
  declare readonly code: 'LIST_LIMIT';
  /** The registry URL. */
  readonly registry: string;
  /** Which list, e.g. `tags of app`. */
  readonly list: string;
  /** Which limit was passed. */
  readonly limit: 'entries' | 'bytes';
  /** The limit's value. */
  readonly value: number;

  constructor(registry: string, list: string, limit: 'entries' | 'bytes', value: number) {
    super(
      'LIST_LIMIT',
      `${list} on ${registry} holds more than ${value} ${limit} across its pages (the client's listLimits.${limit}); regprune stopped rather than read a list that may never end — if the registry really holds that much, raise listLimits.${limit}, otherwise report the registry's endless pagination to its operator`,
    );
    this.registry = registry;
    this.list = list;
    this.limit = limit;
    this.value = value;
  }
}
