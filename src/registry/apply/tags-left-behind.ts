/** Tags a failing registry left listed, pointing at a deleted image: removed. */

import { imageId, repositoryOfTag, tagId, tagName } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { removeDanglingTags } from '../dangling-tags.js';
import { tagListRequest } from '../requests.js';
import { type Context, mustStop, noteFailure, report } from './context.js';
import type { Settle } from './journal-intents.js';

/** A planned image with tags that went without a clean 202: its tags are checked afterwards. */
export interface GoneUnclean {
  op: DeleteOperation;
  /** How it went (the start of the outcome's reason). */
  reason: string;
  requests: string[];
  settle: Settle;
}

/**
 * For planned images found gone without a clean 202 (the retried DELETE answered 404, or it was
 * gone before it): distribution 2.8 unlinks a manifest before it drops the tags on it, and a tag
 * write racing its tag scan makes it fail in between, leaving those tags listed but pointing at
 * nothing. The tag list is read once, after all of this repository's deletes of the wave (a list
 * read before them would still show the tags every deleted image had), and each image's planned
 * tags still listed are removed where they answer 404 ({@link removeDanglingTags}); a tag pushed
 * again since is left alone.
 */
export async function removeTagsLeftBehind(
  ctx: Context,
  repo: string,
  goneUnclean: GoneUnclean[],
): Promise<void> {
  const listRequest = tagListRequest(repo, 'once, after the deletes: are their tags left listed?');
  let listed: Set<string>;
  try {
    listed = new Set(await ctx.client.listTags(repo, { signal: ctx.signal }));
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
    noteFailure(ctx, error);
    for (const gone of goneUnclean) {
      await gone.settle('failed').catch(() => {});
      report(ctx, {
        action: 'delete',
        id: gone.op.image,
        status: 'failed',
        reason: `${gone.reason}, but whether its tags ${gone.op.tags.join(', ')} are left listed pointing at nothing could not be checked: ${(error as Error).message}; run again`,
        requests: [...gone.requests, listRequest],
      });
    }
    return;
  }
  // One after another: concurrent placeholder pushes are what trips the registry up.
  for (const gone of goneUnclean) {
    const requests = [...gone.requests, listRequest];
    const names = gone.op.tags.filter((t) => repositoryOfTag(t) === repo).map(tagName);
    try {
      const cleanup = await removeDanglingTags(ctx.client, repo, names, listed, ctx.signal);
      requests.push(...cleanup.requests);
      await gone.settle('done');
      const notes = [gone.reason];
      if (cleanup.removed.length > 0)
        notes.push(
          `its tags ${cleanup.removed.map((t) => tagId(repo, t)).join(', ')} were left listed pointing at nothing (the registry failed between unlinking it and dropping its tags): removed them`,
        );
      for (const { tag, digest } of cleanup.leftAlone)
        notes.push(`${tagId(repo, tag)} now points at ${imageId(repo, digest)}: left alone`);
      report(ctx, {
        action: 'delete',
        id: gone.op.image,
        status: 'done',
        reason: notes.join('; '),
        requests,
      });
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      await gone.settle('failed').catch(() => {});
      report(ctx, {
        action: 'delete',
        id: gone.op.image,
        status: 'failed',
        reason: `${gone.reason}, but removing its tags left listed pointing at nothing failed: ${(error as Error).message}; run again`,
        requests,
      });
    }
  }
}
