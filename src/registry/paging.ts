import { ListLimitError } from './errors/list-limit-error.js';
import { PaginationLoopError } from './errors/pagination-loop-error.js';
import { nextLink } from './link.js';
import { MAX_PAGES } from './transport/limits.js';
import type { ListLimits } from './types.js';

/** One page of a paginated list. */
export interface Page<T> {
  items: T[];
  /** Size of the page's body. */
  bytes: number;
  /** The next page (absolute URL, same origin), if any. */
  next: string | undefined;
}

/** The registry a list is paged from, and the client's bounds on it. */
export interface PagingContext {
  /** Registry base URL (named by {@link ListLimitError}). */
  registry: string;
  /** The only origin next pages may come from. */
  origin: string;
  limits: Required<ListLimits>;
  /** A URL for messages. */
  describe: (url: string) => string;
}

/**
 * The entries of a paginated list (catalog, tags, referrers), page by page, from `first` along
 * same-origin `Link: rel="next"` pages, within the client's list limits. Yields nothing when
 * `read` finds no first page.
 * @throws {ListLimitError} past `listLimits`. {@link PaginationLoopError} on a repeated page, a
 *   vanished next page, or over 100,000 pages.
 */
export async function* paginate<T>(
  context: PagingContext,
  first: string,
  list: string,
  read: (url: string) => Promise<Page<T> | undefined>,
): AsyncGenerator<T[], void, undefined> {
  const { limits, describe } = context;
  const seen = new Set<string>();
  let bytes = 0;
  let entries = 0;
  let url: string | undefined = first;
  while (url) {
    const page: string = url;
    if (seen.has(page))
      throw new PaginationLoopError(describe(first), `next link ${describe(page)} repeats a page`);
    if (seen.size >= MAX_PAGES)
      throw new PaginationLoopError(describe(first), `over ${MAX_PAGES} pages`);
    seen.add(page);
    const result = await read(page);
    if (!result) {
      if (seen.size === 1) return;
      throw new PaginationLoopError(describe(page), 'a next page vanished');
    }
    bytes += result.bytes;
    if (bytes > limits.bytes)
      throw new ListLimitError(context.registry, list, 'bytes', limits.bytes);
    entries += result.items.length;
    if (entries > limits.entries)
      throw new ListLimitError(context.registry, list, 'entries', limits.entries);
    yield result.items;
    url = result.next;
  }
}

/**
 * The `Link: rel="next"` page after `page`, on the registry's own origin.
 * @throws {PaginationLoopError} when it leads to another origin: list pages decide what is
 *   deleted, a page from elsewhere cannot be told apart from the registry's, and distribution
 *   sends relative links, so a cross-origin one is refused rather than followed.
 */
export function nextPage(
  context: PagingContext,
  response: Response,
  page: string,
): string | undefined {
  const next = nextLink(response.headers.get('link'), page);
  if (next === undefined) return undefined;
  const url = new URL(next);
  if (url.origin !== context.origin)
    throw new PaginationLoopError(
      context.describe(page),
      `the next link leads to another origin (${url.origin}${url.pathname}, host ${url.host}), not the registry ${context.origin}; regprune reads list pages only from the registry itself and sent nothing there`,
    );
  return next;
}
