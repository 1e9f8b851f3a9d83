/**
 * One wave's DELETEs in one repository, a few in flight at once (a sliding window): each DELETE
 * leaves right after a tag list sent since its slot freed (with that list's new names resolved and
 * the plan re-checked against them), while the tags are listed again and again ({@link TagPoller}).
 * A tag that vanishes between two lists went with a DELETE in flight then, and is pushed back onto
 * the image it pointed at when the registry lets that be told.
 */

import { digestOfImage, imageId, tagId } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { RegistryHttpError } from '../errors/registry-http-error.js';
import { manifestRequest, tagListRequest } from '../requests.js';
import type { TagWatch } from '../tag-watch.js';
import {
  type Context,
  deleteBatchSize,
  mustStop,
  notAttempted,
  noteFailure,
  report,
} from './context.js';
import { deleteFailed } from './delete.js';
import { beginIntent, draftOf, endEarlier, type Settle } from './journal-intents.js';
import { type BatchItem, pushBack, restoredNotes } from './push-back.js';
import { type Prefetch, pointerLeft, recheckAdded } from './recheck.js';
import { type TagList, TagPoller, type Vanished } from './tag-poller.js';
import { type GoneUnclean, removeTagsLeftBehind } from './tags-left-behind.js';

/** DELETE attempts per image that answer 400 DIGEST_INVALID (a PUT of it in progress). */
export const DIGEST_INVALID_ATTEMPTS = 4;

/** Tag lists a DELETE waits through for a clean read (the list and every name in it) before it fails. */
const GATE_ATTEMPTS = 3;

/** A DELETE sent: when, and (once answered) when and how. */
interface Sent {
  item: BatchItem;
  sentAt: number;
  answeredAt?: number;
  /** Answered 202 or 404 (a DELETE that threw untagged nothing it told of). */
  answered: boolean;
  /** Settles when it is answered (or failed). */
  settled: Promise<void>;
}

/** See the file comment. */
export async function deleteWindow(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  ops: DeleteOperation[],
  unrewritten: ReadonlySet<string>,
): Promise<void> {
  const { client, graph } = ctx;
  const sent: Sent[] = [];
  const vanishing: Promise<void>[] = [];
  const finishing: Promise<void>[] = [];
  const goneUnclean: GoneUnclean[] = [];
  const poller = new TagPoller(ctx, repo, watch, (v) => {
    vanishing.push(settleVanished(ctx, repo, watch, v, sent));
  });
  poller.start();

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
  const skipped = (op: DeleteOperation, reason: string, requests?: string[]) =>
    report(ctx, { action: 'delete', id: op.image, status: 'skipped', reason, requests });

  const pending = [...ops];
  const attempts = new Map<string, number>();

  /** One planned deletion, from its bytes to its DELETE's answer. */
  const deleteOne = async (op: DeleteOperation): Promise<void> => {
    const saved = ctx.saved.get(op.image);
    if (saved) return skipped(op, saved);
    const pointer = pointerLeft(ctx, op);
    if (pointer) return skipped(op, `${pointer} points at it and was not deleted`);
    const digest = digestOfImage(op.image);
    const requests = [manifestRequest('GET', repo, digest, 'its bytes, fetched ahead')];
    let fetched: Awaited<Prefetch['result']>;
    try {
      fetched = await (ctx.bytes.get(op.image) as Prefetch).result;
    } catch (error) {
      return deleteFailed(ctx, op, error, requests);
    }
    if (!fetched) {
      // An interrupted earlier run's DELETE got through before its end was written: record it
      // (once its tags are checked), so that a later run does not check it again.
      const journal = ctx.journal;
      const interrupted = journal?.unfinished.get(`delete ${op.image}`);
      return goneWithout202(
        op,
        interrupted ? 'deleted by an interrupted earlier run (undo journal)' : 'already gone (404)',
        requests,
        async (status) => {
          if (journal && interrupted && status === 'done') await endEarlier(journal, interrupted);
        },
      );
    }
    const stuck = [op.image, ...graph.targetsOf(op.image, 'referrer')].find((i) =>
      unrewritten.has(digestOfImage(i)),
    );
    // Deleting it would leave a fallback index listing a manifest that is gone.
    if (stuck)
      return skipped(
        op,
        `the referrers fallback index of ${stuck} could not be updated first; run again`,
        requests,
      );
    const item: BatchItem = {
      op,
      digest,
      fetched,
      requests,
      settle: async () => {},
      missing: false,
      restored: [],
      lost: [],
      notes: [],
    };
    if (ctx.journal) {
      try {
        item.settle = await beginIntent(
          ctx.journal,
          draftOf('delete', op.image, repo, fetched, watch.tagsAt(digest), op.mediaType),
        );
      } catch (error) {
        return deleteFailed(ctx, op, error, requests);
      }
    }

    // The tag read right before the DELETE: a list sent from now, and every name listed so far
    // read and re-checked. A list or a read that failed is tried again with the next lists.
    for (let attempt = 1; ; attempt++) {
      try {
        await poller.listSentFromNow();
        await poller.caughtUp();
        break;
      } catch (error) {
        if (attempt < GATE_ATTEMPTS && !mustStop(error, ctx.signal)) continue;
        await item.settle('failed').catch(() => {});
        return deleteFailed(ctx, op, error, requests);
      }
    }
    requests.push(
      tagListRequest(
        repo,
        'sent after its turn came, right before the DELETE; names not seen before read with a GET',
      ),
    );
    const savedNow = ctx.saved.get(op.image);
    if (savedNow) {
      await item.settle('failed');
      return skipped(op, savedNow, requests);
    }

    requests.push(manifestRequest('DELETE', repo, digest));
    let answer!: () => void;
    const record: Sent = {
      item,
      sentAt: performance.now(),
      answered: false,
      settled: new Promise((r) => {
        answer = r;
      }),
    };
    sent.push(record);
    const listsBefore = poller.lists;
    let result: Awaited<ReturnType<typeof client.deleteManifest>>;
    try {
      result = await client.deleteManifest(repo, digest, { signal: ctx.signal });
    } catch (error) {
      answer();
      await item.settle('failed').catch(() => {});
      if (
        error instanceof RegistryHttpError &&
        error.status === 400 &&
        error.registryCode === 'DIGEST_INVALID'
      ) {
        // distribution 2.8 answers this when a PUT of the same manifest is rewriting its revision
        // link: someone is pushing it right now. Nothing was deleted; send it again later, after
        // a new tag list (the push will show there).
        const n = (attempts.get(op.image) ?? 0) + 1;
        attempts.set(op.image, n);
        if (n < DIGEST_INVALID_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 20 * n));
          pending.push(op);
          return;
        }
      }
      return deleteFailed(ctx, op, error, requests);
    }
    record.answeredAt = performance.now();
    record.answered = true;
    item.missing = result === 'missing';
    item.answeredAt = record.answeredAt;
    ctx.gone.add(op.image);
    answer();
    const during = poller.lists - listsBefore;
    if (during > 0)
      requests.push(`${tagListRequest(repo)} ×${during} (while the DELETE was in flight)`);
    // Its outcome waits for a list sent after its answer (and what vanished before that): the
    // slot does not.
    finishing.push(finish(item));
  };

  /** After a DELETE's answer: what went with it, what came back, and its outcome. */
  const finish = async (item: BatchItem): Promise<void> => {
    const { op, requests } = item;
    try {
      const after = await poller.listSentFromNow();
      requests.push(`${tagListRequest(repo)} (after the DELETE)`);
      // Every vanished name this DELETE can have taken was seen missing by now.
      await Promise.all(vanishing);
      if (!item.missing) await comeBack(item, after);
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      item.notes.push(
        `whether a tag pushed onto it meanwhile went with it could not be checked: ${(error as Error).message}`,
      );
    }
    if (item.restored.length > 0 || item.lost.length > 0) {
      await item.settle('done');
      report(ctx, {
        action: 'delete',
        id: op.image,
        status: item.lost.length > 0 ? 'failed' : 'skipped',
        reason: [...restoredNotes(repo, item), ...item.notes].join('; '),
        requests,
        ...(item.restored.length > 0 ? { restored: item.restored.map((t) => tagId(repo, t)) } : {}),
      });
      return;
    }
    if (item.missing)
      return goneWithout202(
        op,
        ['already gone (404)', ...item.notes].join('; '),
        requests,
        item.settle,
      );
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
  };

  /**
   * Names still listed after the DELETE that pointed at its image: written after the DELETE's
   * tag scan. Either the image was pushed again (it is there: it stays, and what it needs), or
   * distribution left the name pointing at the unlinked image (it names it in its 404): pushed
   * back onto it.
   */
  const comeBack = async (item: BatchItem, after: TagList): Promise<void> => {
    for (const tag of await poller.namesOn(item.digest, after)) {
      const now = await poller.readSince(tag, item.answeredAt ?? 0);
      if (now?.digest !== item.digest) continue;
      if (now.present) {
        ctx.gone.delete(item.op.image);
        item.notes.push(`${tagId(repo, tag)} pushed it again after its DELETE`);
        await recheckAdded(ctx, repo, [[tag, item.digest]]);
      } else if (await pushBack(ctx, repo, watch, item, tag))
        await recheckAdded(ctx, repo, [[tag, item.digest]]);
    }
  };

  const slot = async (): Promise<void> => {
    for (;;) {
      const op = pending.shift();
      if (!op) return;
      ctx.signal?.throwIfAborted();
      // Asked to stop: the DELETEs already sent finish; none is started after them.
      if (ctx.stop?.aborted) {
        notAttempted(ctx, 'delete', op.image);
        continue;
      }
      await deleteOne(op);
    }
  };
  try {
    // A DELETE retried after 400 DIGEST_INVALID goes back into `pending` after its slot emptied
    // it: the slots run again until nothing is left.
    while (pending.length > 0)
      await Promise.all(
        Array.from({ length: Math.min(deleteBatchSize(client, ctx.tuning), pending.length) }, slot),
      );
    await Promise.all(finishing);
  } finally {
    await poller.stop();
    await Promise.allSettled([...vanishing, ...finishing]);
  }
  if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
}

/**
 * A name that vanished between two lists went with a DELETE in flight then, unless it was planned
 * to go with its image or someone else removed it. distribution untags before it answers, so only
 * DELETEs sent before the list that lacks it was answered and not answered before the last list
 * that showed it was sent can have taken it. It goes back onto the image its own read named; a
 * name whose read named an image not deleted (moved since) or none goes back onto the one DELETE
 * that can have taken it, and with several it is reported on each, never guessed.
 */
async function settleVanished(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  v: Vanished,
  sent: readonly Sent[],
): Promise<void> {
  const overlapping = sent.filter(
    (s) => s.sentAt < v.before && (s.answeredAt === undefined || s.answeredAt > v.after),
  );
  await Promise.all(overlapping.map((s) => s.settled));
  const candidates = overlapping.filter(
    (s) => s.answered && s.answeredAt !== undefined && s.answeredAt > v.after,
  );
  if (candidates.length === 0) return;
  const known = await v.read;
  const resolution = known?.resolution;
  const took = candidates.filter((s) => !s.item.missing);
  if (candidates.some((s) => s.item.missing && s.item.digest === resolution?.digest)) return;
  const on = took.find((s) => s.item.digest === resolution?.digest);
  if (on) {
    // Known on it before its DELETE left: the re-check let the DELETE take it (planned to go).
    if (known && known.answeredAt < on.sentAt) return;
    if (await pushBack(ctx, repo, watch, on.item, v.tag))
      await recheckAdded(ctx, repo, [[v.tag, on.item.digest]]);
    return;
  }
  // On an image deleted earlier: it went with that one, or its owner removed it.
  if (resolution && ctx.gone.has(imageId(repo, resolution.digest))) return;
  if (took.length > 1) {
    for (const s of took)
      s.item.notes.push(
        `${tagId(repo, v.tag)} vanished with one of the ${took.length} images deleted together with this one; which one it pointed at cannot be told: point it again`,
      );
    return;
  }
  const single = took[0];
  if (!single) return;
  if (resolution?.present) {
    // Read on another image: moved onto this one since, or removed by its owner. Moved, unless
    // its old image is gone too.
    single.item.requests.push(
      manifestRequest('HEAD', repo, resolution.digest, `is what ${v.tag} pointed at still there?`),
    );
    let there: boolean;
    try {
      there =
        (await ctx.client.resolve(repo, resolution.digest, { signal: ctx.signal })) !== undefined;
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      single.item.lost.push(v.tag);
      single.item.notes.push((error as Error).message);
      return;
    }
    if (!there) return;
  }
  if (await pushBack(ctx, repo, watch, single.item, v.tag))
    await recheckAdded(ctx, repo, [[v.tag, single.item.digest]]);
}
