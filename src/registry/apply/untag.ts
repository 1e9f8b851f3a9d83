/** The plan's untags and dangling tags. */

import { imageId, repositoryOfTag, tagId, tagName } from '../../core/naming.js';
import { removeDanglingTags } from '../dangling-tags.js';
import type { JournalIntent } from '../journal.js';
import { manifestRequest, tagListRequest } from '../requests.js';
import { removeOwnPlaceholder, removeTag } from '../untag.js';
import {
  type Context,
  doneEarlier,
  mustStop,
  notAttempted,
  noteFailure,
  report,
} from './context.js';
import { draftOf, endEarlier, journaled, mediaTypeOf } from './journal-intents.js';
import type { ApplyJournal, IntentDraft } from './journal-open.js';

/**
 * Removes the plan's dangling tags (listed, manifest 404), repository by repository, one tag after
 * another: each is resolved again first, and one that points at a manifest now is left alone.
 */
export async function removePlannedDanglingTags(ctx: Context): Promise<void> {
  const byRepo = new Map<string, string[]>();
  for (const tag of ctx.plan.danglingTags ?? []) {
    const repo = repositoryOfTag(tag);
    byRepo.set(repo, [...(byRepo.get(repo) ?? []), tagName(tag)]);
  }
  await Promise.all(
    [...byRepo].map(async ([repo, names]) => {
      if (ctx.stop?.aborted) {
        for (const name of names) notAttempted(ctx, 'untag', tagId(repo, name));
        return;
      }
      const listRequest = tagListRequest(repo);
      try {
        const listed = new Set(await ctx.client.listTags(repo, { signal: ctx.signal }));
        const cleanup = await removeDanglingTags(ctx.client, repo, names, listed, ctx.signal);
        const left = new Map(cleanup.leftAlone.map((l) => [l.tag, l.digest]));
        for (const name of names) {
          const digest = left.get(name);
          // Gone already (e.g. removed while an earlier run's leftovers were settled) is the goal.
          report(ctx, {
            action: 'untag',
            id: tagId(repo, name),
            status: digest ? 'skipped' : 'done',
            reason: cleanup.removed.includes(name)
              ? 'dangling tag (listed, its manifest answered 404): removed'
              : digest
                ? `changed since plan: the tag points at ${imageId(repo, digest)} now; left alone`
                : 'dangling tag: already gone (no longer listed)',
            requests: [listRequest, ...cleanup.requests],
          });
        }
      } catch (error) {
        if (mustStop(error, ctx.signal)) throw error;
        noteFailure(ctx, error);
        for (const name of names) {
          report(ctx, {
            action: 'untag',
            id: tagId(repo, name),
            status: 'failed',
            reason: `dangling tag not removed: ${(error as Error).message}`,
          });
        }
      }
    }),
  );
}

/** Tags the plan keeps on `image` (ids `repo:tag`), as the graph it was made from says. */
export function keptTagsOn(ctx: Context, image: string): string[] {
  // Built once per run: untags call this each, and a plan may keep hundreds of thousands of tags.
  ctx.keptTagSet ??= new Set(ctx.plan.keptTags);
  const kept = ctx.keptTagSet;
  return ctx.graph.tagsOf(image).filter((t) => kept.has(t));
}

export async function untagOne(ctx: Context, tag: string, image: string): Promise<void> {
  const repo = repositoryOfTag(tag);
  const name = tagName(tag);
  const journal = ctx.journal;
  if (journal?.finished.has(`untag ${tag}`)) {
    doneEarlier(ctx, 'untag', tag);
    return;
  }
  if (ctx.stop?.aborted) return notAttempted(ctx, 'untag', tag);
  const interrupted = journal?.unfinished.get(`untag ${tag}`);
  // The manifest's bytes are needed for the undo journal, and until the registry's tag DELETE is
  // known to leave the manifest (see TagGuard): one GET by tag gives them and the digest.
  const needBytes = journal !== undefined || ctx.client.tagDeleteSupported === undefined;
  const requests = [
    needBytes
      ? `GET /v2/${repo}/manifests/${name} (its digest, and its bytes${journal ? ' for the undo journal' : ' in case the tag DELETE takes the manifest'})`
      : manifestRequest('HEAD', repo, name),
  ];
  try {
    const fetched = needBytes
      ? await ctx.client.getManifest(repo, name, { signal: ctx.signal })
      : undefined;
    const now = needBytes
      ? fetched?.digest
      : await ctx.client.resolve(repo, name, { signal: ctx.signal });
    if (interrupted && journal) {
      const finished = await finishInterruptedUntag(ctx, journal, interrupted, now, requests);
      if (finished) {
        report(ctx, { action: 'untag', id: tag, status: 'done', reason: finished, requests });
        return;
      }
    }
    if (now === undefined) {
      report(ctx, {
        action: 'untag',
        id: tag,
        status: 'skipped',
        reason: 'the tag no longer exists',
        requests,
      });
      return;
    }
    if (imageId(repo, now) !== image) {
      report(ctx, {
        action: 'untag',
        id: tag,
        status: 'skipped',
        reason: `changed since plan: the tag now points at ${imageId(repo, now)}, not ${image}`,
        requests,
      });
      return;
    }
    if (ctx.stop?.aborted) return notAttempted(ctx, 'untag', tag);
    const draft: IntentDraft | undefined =
      journal && fetched ? draftOf('untag', tag, repo, fetched, [name]) : undefined;
    const guard = fetched && {
      digest: fetched.digest,
      bytes: fetched.bytes,
      mediaType: mediaTypeOf(fetched),
      keep: keptTagsOn(ctx, image).map(tagName),
    };
    const removal = await journaled(journal, draft, () =>
      removeTag(ctx.client, repo, name, ctx.signal, guard),
    );
    report(ctx, {
      action: 'untag',
      id: tag,
      status: 'done',
      reason:
        removal.how === 'placeholder'
          ? 'the registry cannot delete tags: pushed a unique placeholder to the tag and deleted it by digest'
          : removal.how === 'already-gone'
            ? 'already gone'
            : removal.how === 'tag-delete-unsafe'
              ? `the registry deleted the image with the tag (its tag DELETE is unsafe): pushed ${image} back at once${removal.restored?.length ? ` with its kept tags ${removal.restored.join(', ')}` : ''}; later untags use a placeholder`
              : 'deleted the tag',
      requests: [...requests, ...removal.requests],
    });
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
    noteFailure(ctx, error);
    report(ctx, {
      action: 'untag',
      id: tag,
      status: 'failed',
      reason: (error as Error).message,
      requests,
    });
  }
}

/**
 * An untag an earlier run began but did not record as done: the tag is gone (it finished), or a
 * placeholder of ours sits on it (it stopped in between: delete the placeholder), or the tag is
 * still listed but points at nothing (the registry dropped the placeholder but not the tag, see
 * {@link removeTag}: push a new one). Returns the outcome's reason when it is finished now, else
 * `undefined` (untag as usual).
 */
export async function finishInterruptedUntag(
  ctx: Context,
  journal: ApplyJournal,
  intent: JournalIntent,
  now: string | undefined,
  requests: string[],
): Promise<string | undefined> {
  const { repository } = intent;
  const name = tagName(intent.id);
  const signal = ctx.signal;
  if (now === undefined) {
    // A tag left pointing at nothing answers 404 like a removed one; only the tag list tells.
    requests.push(tagListRequest(repository, 'once per repository'));
    const listed = await listedTags(ctx, repository);
    if (!listed.has(name)) {
      await endEarlier(journal, intent);
      return 'finished by an interrupted earlier run (undo journal)';
    }
    const cleanup = await removeDanglingTags(ctx.client, repository, [name], listed, signal);
    requests.push(...cleanup.requests);
    // Pushed again since it was listed: someone else's tag now, left alone.
    if (cleanup.removed.length === 0) return undefined;
    await endEarlier(journal, intent);
    return 'an interrupted earlier run left the tag listed but pointing at nothing: removed it';
  }
  if (now === intent.digest) return undefined;
  const cleared = await removeOwnPlaceholder(ctx.client, repository, name, now, signal);
  requests.push(...cleared.requests);
  if (!cleared.removed) return undefined;
  await endEarlier(journal, intent);
  return 'an interrupted earlier run left its placeholder on the tag: deleted it';
}

/** The tags listed in `repository`, read once per run (only resumed untags ask). */
export function listedTags(ctx: Context, repository: string): Promise<Set<string>> {
  let listed = ctx.listedTags.get(repository);
  if (!listed) {
    listed = ctx.client.listTags(repository, { signal: ctx.signal }).then((tags) => new Set(tags));
    ctx.listedTags.set(repository, listed);
  }
  return listed;
}
