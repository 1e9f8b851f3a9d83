/**
 * One wave's DELETEs in one repository, a few in flight at once (a sliding window): each DELETE
 * leaves right after a tag list sent since its slot freed (with that list's new names resolved and
 * the plan re-checked against them), and each ended DELETE waits for a list sent after it
 * ({@link TagPoller}). A tag that vanishes between two lists went with a DELETE in flight then,
 * and is pushed back onto the image it pointed at when the registry lets that be told.
 */

import { goesWithImage } from '../../core/attachments.js';
import { digestOfImage, imageId, tagId } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { DeleteRefusedError } from '../errors/delete-refused-error.js';
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
import { type TagList, TagPoller, YOUNG_RETRY_MS } from './tag-poller.js';
import { type GoneUnclean, removeTagsLeftBehind } from './tags-left-behind.js';
import { type Sent, settleVanished } from './vanished.js';

/** DELETE attempts per image that answer 400 DIGEST_INVALID (a PUT of it in progress). */
export const DIGEST_INVALID_ATTEMPTS = 4;

/** Tag lists a DELETE waits through for a clean read (the list and every name in it) before it fails. */
const GATE_ATTEMPTS = 3;

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
  // The first error that ends the run: no DELETE starts after it, and it is rethrown once the
  // DELETEs in flight ended and were reported.
  let fatal: { error: unknown } | undefined;
  const guard = (work: Promise<void>): Promise<void> =>
    work.catch((error) => {
      fatal ??= { error };
    });
  const window = deleteBatchSize(client, ctx.tuning);
  const poller = new TagPoller(ctx, repo, watch, window, (v) => {
    vanishing.push(guard(settleVanished(ctx, repo, watch, v, sent)));
  });
  poller.start();

  // Gone without a clean 202: the registry may have left its tags listed, pointing at nothing.
  // `answeredAt`: when the registry last answered for it (see report).
  const goneWithout202 = async (
    op: DeleteOperation,
    reason: string,
    requests: string[],
    settle: Settle,
    answeredAt: number,
  ) => {
    ctx.gone.add(op.image);
    if (op.tags.length > 0) {
      goneUnclean.push({ op, reason, requests, settle });
      return;
    }
    await settle('done');
    report(
      ctx,
      { action: 'delete', id: op.image, status: 'done', reason, requests },
      { answeredAt },
    );
  };
  const skipped = (op: DeleteOperation, reason: string, requests?: string[]) =>
    report(ctx, { action: 'delete', id: op.image, status: 'skipped', reason, requests });

  const pending = [...ops];
  const attempts = new Map<string, number>();

  /** One planned deletion, from its bytes to its DELETE's end. */
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
        // Its bytes were read ahead, some time ago: it proves nothing about the registry now.
        Number.NEGATIVE_INFINITY,
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
    // read and re-checked. A list or a read that failed is tried again with the next lists; a
    // name listed lately that reads as nothing yet (being pushed) is waited for.
    for (let failures = 0; ; ) {
      try {
        await poller.listSentFromNow();
        if ((await poller.caughtUp()).length === 0) break;
        // A name that reads as nothing yet is read again this long after its last read.
        await new Promise((r) => setTimeout(r, YOUNG_RETRY_MS));
      } catch (error) {
        // A list that could not reach the registry counts (once, however many waited on it).
        noteFailure(ctx, error);
        const fatalHere = mustStop(error, ctx.signal);
        // The run stopped meanwhile (the registry found dead, or asked to): its DELETE was never
        // sent, so it is not attempted rather than one more failure.
        if (ctx.stop?.aborted && !fatalHere) {
          await item.settle('failed').catch(() => {});
          return notAttempted(ctx, 'delete', op.image);
        }
        if (++failures < GATE_ATTEMPTS && !fatalHere) continue;
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
    if (fatal || ctx.stop?.aborted) {
      await item.settle('failed');
      return notAttempted(ctx, 'delete', op.image);
    }

    requests.push(manifestRequest('DELETE', repo, digest));
    let ended!: () => void;
    const record: Sent = {
      item,
      sentAt: performance.now(),
      ended: new Promise((r) => {
        ended = r;
      }),
    };
    sent.push(record);
    poller.inFlight(1);
    const listsBefore = poller.lists;
    let result: Awaited<ReturnType<typeof client.deleteManifest>>;
    try {
      result = await client.deleteManifest(repo, digest, { signal: ctx.signal });
    } catch (error) {
      record.endedAt = performance.now();
      poller.inFlight(-1);
      if (
        error instanceof RegistryHttpError &&
        error.status === 400 &&
        error.registryCode === 'DIGEST_INVALID'
      ) {
        record.end = 'untouched';
        ended();
        await item.settle('failed').catch(() => {});
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
        return deleteFailed(ctx, op, error, requests);
      }
      if (error instanceof DeleteRefusedError) {
        // The platform refused this one image (it stays): skipped, as before any request.
        record.end = 'untouched';
        ended();
        await item.settle('failed').catch(() => {});
        return deleteFailed(ctx, op, error, requests);
      }
      // It may have gone through before the error (an answer lost, a 500 after the tag scan):
      // it counts as having taken tags, and is reported once the lists after it were read.
      record.end = 'failed';
      ended();
      if (mustStop(error, ctx.signal)) {
        await item.settle('failed').catch(() => {});
        throw error;
      }
      // Counted now: a registry that stopped answering must stop the run before more are sent.
      noteFailure(ctx, error);
      finishing.push(guard(finish(item, record, error)));
      return;
    }
    record.endedAt = performance.now();
    record.end = result === 'missing' ? 'missing' : 'deleted';
    poller.inFlight(-1);
    ctx.gone.add(op.image);
    ended();
    const during = poller.lists - listsBefore;
    if (during > 0)
      requests.push(`${tagListRequest(repo)} ×${during} (while the DELETE was in flight)`);
    // Its outcome waits for a list sent after its answer (and what vanished before that): the
    // slot does not.
    finishing.push(guard(finish(item, record)));
  };

  /** After a DELETE ended: what went with it, what came back, and its outcome. */
  const finish = async (item: BatchItem, record: Sent, failure?: unknown): Promise<void> => {
    const { op, requests } = item;
    // When the registry last answered for it: a list that could not be read after it leaves its
    // DELETE's answer as the last (see report).
    let answeredAt = record.endedAt ?? record.sentAt;
    try {
      // Shared with the next DELETE's list (or a paced one): it holds no slot.
      const after = await poller.listAfterInFlight('next');
      answeredAt = after.answeredAt;
      requests.push(`${tagListRequest(repo)} (after the DELETE)`);
      // Every vanished name this DELETE can have taken was seen missing by now.
      await Promise.all(vanishing);
      await comeBack(item, record, after);
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      item.notes.push(
        `whether a tag pushed onto it meanwhile went with it could not be checked: ${(error as Error).message}`,
      );
    }
    const restored =
      item.restored.length > 0 ? { restored: item.restored.map((t) => tagId(repo, t)) } : {};
    if (failure !== undefined) {
      await item.settle('failed').catch(() => {});
      report(ctx, {
        action: 'delete',
        id: op.image,
        status: 'failed',
        reason: [(failure as Error).message, ...restoredNotes(repo, item), ...item.notes].join(
          '; ',
        ),
        requests,
        ...restored,
      });
      return;
    }
    if (item.restored.length > 0 || item.lost.length > 0) {
      await item.settle('done');
      report(ctx, {
        action: 'delete',
        id: op.image,
        status: item.lost.length > 0 ? 'failed' : 'skipped',
        reason: [...restoredNotes(repo, item), ...item.notes].join('; '),
        requests,
        ...restored,
      });
      return;
    }
    if (record.end === 'missing')
      return goneWithout202(
        op,
        ['already gone (404)', ...item.notes].join('; '),
        requests,
        item.settle,
        answeredAt,
      );
    await item.settle('done');
    const notes = [
      ...(op.tags.length > 0 ? [`its tags ${op.tags.join(', ')} went with it`] : []),
      ...item.notes,
    ];
    report(
      ctx,
      {
        action: 'delete',
        id: op.image,
        status: 'done',
        reason: notes.length > 0 ? notes.join('; ') : undefined,
        requests,
      },
      { answeredAt },
    );
  };

  /**
   * Names still listed after the DELETE that pointed at its image: written after the DELETE's
   * tag scan. Either the image was pushed again (it is there: it stays, and what it needs), or
   * distribution left the name pointing at the unlinked image (it names it in its 404): pushed
   * back onto it. After a DELETE that did not answer 202, the plan's own tags are not pushed back
   * (the registry may have failed between unlinking and untagging: they are removed afterwards).
   */
  const comeBack = async (item: BatchItem, record: Sent, after: TagList): Promise<void> => {
    for (const tag of await poller.namesOn(item.digest, after, record.sentAt)) {
      const now = await poller.readSince(tag, record.endedAt ?? record.sentAt);
      if (now?.digest !== item.digest) continue;
      if (now.present) {
        ctx.gone.delete(item.op.image);
        item.notes.push(`${tagId(repo, tag)} pushed it again after its DELETE`);
        await recheckAdded(ctx, repo, [[tag, item.digest]]);
        continue;
      }
      if (
        record.end !== 'deleted' &&
        goesWithImage(ctx.plan, ctx.graph, tagId(repo, tag), imageId(repo, item.digest))
      )
        continue;
      if (await pushBack(ctx, repo, watch, item, tag))
        await recheckAdded(ctx, repo, [[tag, item.digest]]);
    }
  };

  const slot = async (): Promise<void> => {
    for (;;) {
      if (fatal) return;
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
    while (pending.length > 0 && !fatal) {
      const slots = Math.min(window, pending.length);
      await Promise.all(Array.from({ length: slots }, () => guard(slot())));
    }
    // Once the run must end, the rest is not attempted.
    if (fatal) for (const op of pending.splice(0)) notAttempted(ctx, 'delete', op.image);
    await Promise.all(finishing);
  } finally {
    await poller.stop();
    await Promise.all([...vanishing, ...finishing]);
  }
  if (fatal) throw fatal.error;
  if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
}
