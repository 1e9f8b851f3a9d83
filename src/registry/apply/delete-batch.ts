/** One batch of digest DELETEs between two tag reads, with the retries distribution 2.8 needs. */

import { digestOfImage, tagId } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import type { RegistryClient } from '../client.js';
import { RegistryHttpError } from '../errors/registry-http-error.js';
import { manifestRequest, tagListRequest } from '../requests.js';
import { lookupTag, type Resolution, type TagWatch } from '../tag-watch.js';
import { type Context, mustStop, noteFailure, report } from './context.js';
import { deleteFailed } from './delete.js';
import { beginIntent, draftOf, endEarlier, type Settle } from './journal-intents.js';
import { type BatchItem, pushBack, restoredNotes, restoreVanished } from './push-back.js';
import { type Prefetch, recheckAdded } from './recheck.js';
import { type GoneUnclean, removeTagsLeftBehind } from './tags-left-behind.js';

/** DELETE attempts per image that answer 400 DIGEST_INVALID (a PUT of it in progress). */
export const DIGEST_INVALID_ATTEMPTS = 4;

/**
 * One batch: journal intents first, then a tag read unless nothing
 * was awaited since the last one, the DELETEs, and a tag read after them. Returns the operations
 * to send again (400 DIGEST_INVALID: someone is pushing that very manifest right now).
 */
export async function deleteBatch(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  batch: DeleteOperation[],
  attempts: Map<string, number>,
  unrewritten: ReadonlySet<string>,
): Promise<DeleteOperation[]> {
  const { client, graph } = ctx;
  const items: BatchItem[] = [];
  const goneUnclean: GoneUnclean[] = [];
  // Gone without a clean 202: the registry may have left its tags listed, pointing at nothing.
  const goneWithout202 = async (
    op: DeleteOperation,
    reason: string,
    requests: string[],
    settle: Settle,
  ) => {
    ctx.gone.add(op.image);
    if (op.tags.length > 0) {
      goneUnclean.push({ op, reason, requests, settle });
      return;
    }
    await settle('done');
    report(ctx, { action: 'delete', id: op.image, status: 'done', reason, requests });
  };
  const failed = (op: DeleteOperation, error: unknown, requests: string[]) =>
    deleteFailed(ctx, op, error, requests);

  for (const op of batch) {
    const digest = digestOfImage(op.image);
    const requests = [manifestRequest('GET', repo, digest, 'its bytes, fetched ahead')];
    const entry = ctx.bytes.get(op.image) as Prefetch;
    if (!entry.settled) watch.fresh = false;
    try {
      const fetched = await entry.result;
      if (!fetched) {
        // An interrupted earlier run's DELETE got through before its end was written:
        // record it (once its tags are checked), so that a later run does not check it again.
        const journal = ctx.journal;
        const interrupted = journal?.unfinished.get(`delete ${op.image}`);
        await goneWithout202(
          op,
          interrupted
            ? 'deleted by an interrupted earlier run (undo journal)'
            : 'already gone (404)',
          requests,
          async (status) => {
            if (journal && interrupted && status === 'done') await endEarlier(journal, interrupted);
          },
        );
        continue;
      }
      items.push({
        op,
        digest,
        fetched,
        requests,
        settle: async () => {},
        missing: false,
        restored: [],
        lost: [],
        notes: [],
      });
    } catch (error) {
      failed(op, error, requests);
    }
  }

  let ready: BatchItem[] = [];
  for (const item of items) {
    const stuck = [item.op.image, ...graph.targetsOf(item.op.image, 'referrer')].find((i) =>
      unrewritten.has(digestOfImage(i)),
    );
    if (stuck) {
      // Deleting it would leave a fallback index listing a manifest that is gone.
      report(ctx, {
        action: 'delete',
        id: item.op.image,
        status: 'skipped',
        reason: `the referrers fallback index of ${stuck} could not be updated first; run again`,
        requests: item.requests,
      });
      continue;
    }
    if (ctx.journal) {
      watch.fresh = false;
      try {
        item.settle = await beginIntent(
          ctx.journal,
          draftOf(
            'delete',
            item.op.image,
            repo,
            item.fetched,
            watch.tagsAt(item.digest),
            item.op.mediaType,
          ),
        );
      } catch (error) {
        failed(item.op, error, item.requests);
        continue;
      }
    }
    ready.push(item);
  }
  if (ready.length === 0) {
    if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
    return [];
  }

  // The tag read right before the DELETEs: unless nothing was awaited since the last one.
  if (!watch.fresh) {
    try {
      const before = await watch.read(ctx.signal);
      for (const item of ready) item.requests.push(...before.requests);
      await recheckAdded(ctx, repo, before.added);
    } catch (error) {
      for (const item of ready) {
        await item.settle('failed').catch(() => {});
        failed(item.op, error, item.requests);
      }
      if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
      return [];
    }
    const now: BatchItem[] = [];
    for (const item of ready) {
      const saved = ctx.saved.get(item.op.image);
      if (!saved) {
        now.push(item);
        continue;
      }
      await item.settle('failed');
      report(ctx, {
        action: 'delete',
        id: item.op.image,
        status: 'skipped',
        reason: saved,
        requests: item.requests,
      });
    }
    ready = now;
  } else {
    for (const item of ready)
      item.requests.push(tagListRequest(repo, 'the read after the previous DELETE'));
  }

  const again: DeleteOperation[] = [];
  const deleted: BatchItem[] = [];
  // Names known when the DELETE leaves. While a single DELETE is in flight the tags are listed
  // again and again (each list sent when the last one is answered): a new name pushed onto the
  // image after the read before the DELETE is listed there while the registry is still scanning
  // the tags (it scans every tag of the repository before it untags), and missing from the read
  // after. Such names are resolved at once, off the DELETE's path, for the read after it.
  const knownBefore = new Set([...watch.tags.keys(), ...watch.unresolved]);
  let inFlight = true;
  const seenDuring = new Set<string>();
  const early = new Map<string, Promise<Resolution>>();
  let polls = 0;
  // When the last list that showed each name was sent: a DELETE answered before that took no
  // tag with it that this list showed (it untags before it answers).
  const lastSeen = new Map<string, number>();
  const polling = (async () => {
    while (inFlight) {
      let names: string[];
      const sentAt = performance.now();
      try {
        names = await client.listTags(repo, { signal: ctx.signal });
      } catch {
        return;
      }
      polls++;
      for (const tag of names) lastSeen.set(tag, sentAt);
      for (const tag of names) {
        if (knownBefore.has(tag) || seenDuring.has(tag)) continue;
        seenDuring.add(tag);
        early.set(
          tag,
          lookupTag(client, repo, tag, ctx.signal).catch(() => undefined),
        );
      }
    }
  })();
  await Promise.all(
    ready.map(async (item) => {
      const { op, digest, requests } = item;
      requests.push(manifestRequest('DELETE', repo, digest));
      let result: Awaited<ReturnType<RegistryClient['deleteManifest']>>;
      try {
        result = await client.deleteManifest(repo, digest, { signal: ctx.signal });
      } catch (error) {
        await item.settle('failed').catch(() => {});
        if (
          error instanceof RegistryHttpError &&
          error.status === 400 &&
          error.registryCode === 'DIGEST_INVALID'
        ) {
          // distribution 2.8 answers this when a PUT of the same manifest is rewriting its
          // revision link: someone is pushing it right now. Nothing was deleted; read the tags
          // again (the push will show) and send it again if it is still to go.
          const n = (attempts.get(op.image) ?? 0) + 1;
          attempts.set(op.image, n);
          if (n < DIGEST_INVALID_ATTEMPTS) {
            again.push(op);
            return;
          }
        }
        failed(op, error, requests);
        return;
      }
      item.missing = result === 'missing';
      item.answeredAt = performance.now();
      ctx.gone.add(op.image);
      deleted.push(item);
    }),
  );
  // The read after the DELETE must be listed after every list counted as "during" it: a list
  // answered later could show a name pushed after the read after, not one that vanished.
  inFlight = false;
  await polling;
  watch.fresh = false;
  if (again.length > 0)
    await new Promise((r) => setTimeout(r, 20 * (attempts.get(again[0]?.image as string) ?? 1)));

  // The tag read after the DELETEs: did a tag go with them that was not planned to?
  if (deleted.length > 0) {
    try {
      const after = await watch.read(ctx.signal, undefined, {
        resolutions: early,
        changed: new Set(deleted.map((i) => i.digest)),
      });
      for (const item of deleted)
        item.requests.push(...after.requests.map((r) => `${r} (after the DELETE)`));
      // Names seen only while the DELETEs ran and gone after them: each goes back onto the image
      // it was resolved to; unresolved, onto the one image deleted (a digest DELETE is what
      // removes a tag), and with several deleted at once it is reported, not guessed.
      const vanishedNew: Array<[string, BatchItem]> = [];
      const movedNew: Array<[string, string]> = [];
      for (const item of deleted)
        if (polls > 0)
          item.requests.push(
            `GET /v2/${repo}/tags/list ×${polls} (while the DELETE was in flight)`,
          );
      // The DELETEs that can have taken a vanished name: those not answered before the last list
      // that showed it was sent.
      const candidatesOf = (tag: string) =>
        deleted.filter((i) => (i.answeredAt ?? 0) > (lastSeen.get(tag) ?? -1));
      for (const tag of seenDuring) {
        if (after.listed.has(tag)) continue;
        const resolution = await early.get(tag);
        const on = deleted.find((i) => i.digest === resolution?.digest);
        // Seen on another image while the DELETE ran: moved onto a deleted one since, or
        // removed by someone else; told apart like a known tag that vanished.
        if (on) vanishedNew.push([tag, on]);
        else if (resolution?.present) movedNew.push([tag, resolution.digest]);
        else {
          // Unresolved: it went with the one DELETE that can have taken it, if it untagged
          // anything (202); with several, it is reported, not guessed.
          const candidates = candidatesOf(tag);
          const single = candidates.length === 1 ? (candidates[0] as BatchItem) : undefined;
          if (single && !single.missing) vanishedNew.push([tag, single]);
          else if (candidates.length > 1)
            for (const item of candidates)
              item.notes.push(
                `${tagId(repo, tag)} (pushed while ${candidates.length} images were being deleted together) vanished before it could be resolved; which image it pointed at cannot be told: point it again`,
              );
        }
      }
      await restoreVanished(
        ctx,
        repo,
        watch,
        deleted,
        [...after.vanished, ...movedNew],
        vanishedNew,
        candidatesOf,
      );
      // A name pushed while the DELETE unlinked the image but written after its tag scan is left
      // listed, pointing at the deleted image (the registry names it): pushed back too.
      for (const [tag, digest] of after.dangling) {
        const item = deleted.find((i) => i.digest === digest);
        if (item && (await pushBack(ctx, repo, watch, item, tag)))
          await recheckAdded(ctx, repo, [[tag, digest]]);
      }
      await recheckAdded(ctx, repo, after.added);
      for (const [tag, digest] of after.added) {
        // Pushed again after its DELETE: it is there again, so what it needs must stay too.
        const item = deleted.find((i) => i.digest === digest);
        if (item) {
          ctx.gone.delete(item.op.image);
          item.notes.push(`${tagId(repo, tag)} pushed it again after its DELETE`);
        }
      }
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      for (const item of deleted)
        item.notes.push(
          `whether a tag pushed onto it meanwhile went with it could not be checked: ${(error as Error).message}`,
        );
    }
  }
  for (const item of deleted) {
    const { op, requests } = item;
    if (item.restored.length > 0 || item.lost.length > 0) {
      await item.settle('done');
      const lost = item.lost.length > 0;
      report(ctx, {
        action: 'delete',
        id: op.image,
        status: lost ? 'failed' : 'skipped',
        reason: [...restoredNotes(repo, item), ...item.notes].join('; '),
        requests,
        ...(item.restored.length > 0 ? { restored: item.restored.map((t) => tagId(repo, t)) } : {}),
      });
      continue;
    }
    if (item.missing) {
      await goneWithout202(
        op,
        ['already gone (404)', ...item.notes].join('; '),
        requests,
        item.settle,
      );
      continue;
    }
    await item.settle('done');
    const notes = [
      ...(op.tags.length > 0 ? [`its tags ${op.tags.join(', ')} went with it`] : []),
      ...item.notes,
    ];
    report(ctx, {
      action: 'delete',
      id: op.image,
      status: 'done',
      reason: notes.length > 0 ? notes.join('; ') : undefined,
      requests,
    });
  }
  if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
  return again;
}
