import { MalformedResponseError } from '../errors/malformed-response-error.js';
import { ManifestTooLargeError } from '../errors/manifest-too-large-error.js';
import { parseJsonObject } from '../http-errors.js';
import { type Descriptor, parseReferrersIndex } from '../manifest.js';
import { MANIFEST_LIMIT, OCI_INDEX } from '../media-types.js';
import { nextPage, paginate } from '../paging.js';
import { LIST_LIMIT } from '../transport/limits.js';
import type { Sent } from '../transport/send.js';
import type { EndpointContext } from './context.js';

interface Options {
  signal?: AbortSignal;
}

/** A list of names (the catalog's `repositories` or a repository's `tags`) over all its pages. */
export async function listNames(
  context: EndpointContext,
  first: string,
  list: string,
  scope: string,
  field: 'tags' | 'repositories',
  options: Options,
  notFoundIsEmpty = false,
): Promise<string[]> {
  const pages = paginate(context.paging, context.absolute(first), list, async (page) => {
    const { response, bytes } = await getPage(context, page, scope, LIST_LIMIT, options);
    if (notFoundIsEmpty && response.status === 404) {
      await response.body?.cancel();
      return { items: [], bytes: 0, next: undefined };
    }
    await context.expect(response, [200], 'GET', page, scope);
    if (!bytes)
      throw new MalformedResponseError('GET', context.describe(page), `over ${LIST_LIMIT} bytes`);
    const items = parseJsonObject(bytes, 'GET', context.describe(page))[field] ?? [];
    if (!Array.isArray(items))
      throw new MalformedResponseError('GET', context.describe(page), `"${field}" is not a list`);
    return {
      items: items.map((name: unknown) => (typeof name === 'string' ? name : String(name))),
      bytes: bytes.length,
      next: nextPage(context.paging, response, page),
    };
  });
  const names: string[] = [];
  for await (const items of pages) names.push(...items);
  return names;
}

/**
 * The referrers of `digest` over all pages of the referrers API, or `undefined` when the first
 * page is missing (404, 400 or 405: the registry has no referrers API).
 */
export async function listReferrers(
  context: EndpointContext,
  repository: string,
  digest: string,
  scope: string,
  options: Options,
): Promise<Descriptor[] | undefined> {
  let absent = false;
  const pages = paginate(
    context.paging,
    context.absolute(`v2/${repository}/referrers/${digest}`),
    `referrers of ${repository}@${digest}`,
    async (page) => {
      const { response, bytes } = await getPage(context, page, scope, MANIFEST_LIMIT, options, {
        accept: OCI_INDEX,
      });
      if (response.status === 404 || response.status === 400 || response.status === 405) {
        await response.body?.cancel();
        absent = true;
        return undefined;
      }
      await context.expect(response, [200], 'GET', page, scope);
      if (!bytes)
        throw new ManifestTooLargeError(repository, `referrers of ${digest}`, MANIFEST_LIMIT);
      return {
        items: parseReferrersIndex(bytes, repository, digest),
        bytes: bytes.length,
        next: nextPage(context.paging, response, page),
      };
    },
  );
  const list: Descriptor[] = [];
  for await (const items of pages) list.push(...items);
  return absent ? undefined : list;
}

/** One page of a list: a GET whose body is read within its attempt. */
function getPage(
  context: EndpointContext,
  page: string,
  scope: string,
  read: number,
  options: Options,
  headers?: Record<string, string>,
): Promise<Sent> {
  return context.limit(() =>
    context.call({
      method: 'GET',
      target: page,
      scope,
      read,
      ...(headers ? { headers } : {}),
      ...options,
    }),
  );
}
