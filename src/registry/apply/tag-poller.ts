/**
 * One repository's tags, listed when a DELETE needs a list. distribution's digest DELETE removes
 * every tag on the digest, and its tag list gives names only, so the apply needs three things from
 * these lists: a list sent after a DELETE's turn came, with every name listed so far read and
 * re-checked, before it leaves; the names that vanished between two lists, with the times that
 * bound when; and which digest each name pointed at.
 * When they are sent is {@link ListSchedule}'s part.
 */
import type { RegistryClient } from '../client.js';
import { lookupTag, type Resolution, type TagWatch } from '../tag-watch.js';
import { type Context, mustStop } from './context.js';
import { ListSchedule, type ListWaiter } from './list-schedule.js';
import { recheckAdded } from './recheck.js';

/** One answered tag list. */
export interface TagList {
  /** When it was sent and answered (`performance.now()`): the registry read it in between. */
  sentAt: number;
  answeredAt: number;
  names: ReadonlySet<string>;
}

/** A name listed by one list and missing from the next: removed after `after`, before `before`. */
export interface Vanished {
  tag: string;
  /** When the last list that showed it was sent. */
  after: number;
  /** When the first list that lacks it was answered. */
  before: number;
  /**
   * What it pointed at as last read (settles once a GET in flight is answered; a read that found
   * nothing falls back on the last one that named a digest), and when that read was answered
   * (0: before this poller started).
   */
  read: Promise<KnownRead | undefined>;
}

/** One answered read of a tag. */
export interface KnownRead {
  resolution: Resolution;
  answeredAt: number;
}

/**
 * A listed name that reads as nothing is most often being pushed (listed before its link is
 * written) or removed: for this long after it was first listed it holds the DELETEs and is read
 * again every `YOUNG_RETRY_MS`; after that it is a broken tag, read again every `OLD_RETRY_MS`.
 */
const YOUNG_MS = 1000;
export const YOUNG_RETRY_MS = 50;
const OLD_RETRY_MS = 1000;

interface Resolving {
  /** When the GET was sent and answered (0 for names known before the poller started). */
  at: number;
  answeredAt?: number;
  result: Promise<Resolution>;
  settled?: Resolution;
  /** The latest answered read that named a digest (this one once answered, else an earlier one). */
  named?: KnownRead;
}

/** See the file comment. `start()` lets lists be sent; `stop()` ends after one more list. */
export class TagPoller {
  /** Lists answered so far. */
  lists = 0;
  readonly #ctx: Context;
  readonly #repo: string;
  readonly #watch: TagWatch;
  readonly #client: RegistryClient;
  readonly #onVanished: (vanished: Vanished) => void;
  /**
   * Names believed listed, with when the latest list that showed each was sent and answered.
   * Lists may overlap (one sent for a waiting DELETE while another is in flight), and the
   * registry reads each at some moment between its send and its answer: a name is taken for
   * removed only by a list sent after every list that showed it was answered.
   */
  readonly #present = new Map<string, { first: number; sent: number; answered: number }>();
  /** Names taken for removed, with when the list that showed it was sent: older lists are stale. */
  readonly #removedBy = new Map<string, number>();
  /** Each listed name's latest resolution (settled or not). */
  readonly #resolutions = new Map<string, Resolving>();
  /** Settles once every resolution started so far is re-checked against the plan. */
  #checked: Promise<void> = Promise.resolve();
  /** Names read but not re-checked against the plan (the re-check failed), and why. */
  #unchecked: Array<[string, string]> = [];
  #checkFailure: unknown;
  /** Listed names whose read failed (read again with the next list), with the error. */
  readonly #failedReads = new Map<string, unknown>();
  readonly #schedule: ListSchedule<TagList>;

  /** `maxLists`: lists in flight at once at most (one per DELETE slot). */
  constructor(
    ctx: Context,
    repo: string,
    watch: TagWatch,
    maxLists: number,
    onVanished: (vanished: Vanished) => void,
  ) {
    this.#ctx = ctx;
    this.#schedule = new ListSchedule(maxLists, (waiting) => this.#list(waiting), repo);
    this.#repo = repo;
    this.#watch = watch;
    this.#client = ctx.client;
    this.#onVanished = onVanished;
    for (const tag of [...watch.tags.keys(), ...watch.unresolved])
      this.#present.set(tag, { first: 0, sent: 0, answered: 0 });
    for (const [tag, digest] of watch.tags) {
      const settled = { digest, present: true };
      this.#resolutions.set(tag, {
        at: 0,
        answeredAt: 0,
        result: Promise.resolve(settled),
        settled,
        named: { resolution: settled, answeredAt: 0 },
      });
    }
  }

  start(): void {
    this.#schedule.start();
  }

  /**
   * A list sent after this call, once its new names are resolved and every planned deletion
   * they reach is in `ctx.saved`. `next`: not sent for this call, but the next list sent for a
   * DELETE's turn, or paced: for what does not hold a slot.
   * @throws what listing or resolving failed with.
   */
  listSentFromNow(when: 'now' | 'next' = 'now'): Promise<TagList> {
    return this.#schedule.next(when);
  }

  /**
   * A list sent once every list in flight now was answered (and after this call): a name one of
   * those shows that is gone by then is seen vanished by it, not only by some later list. For
   * what went with a DELETE that just ended (`when` as in {@link listSentFromNow}).
   */
  listAfterInFlight(when: 'now' | 'next' = 'now'): Promise<TagList> {
    return this.#schedule.afterInFlight(when);
  }

  /** A DELETE of this repository left (`+1`) or ended (`-1`). */
  inFlight(change: 1 | -1): void {
    this.#schedule.inFlight(change);
  }

  /**
   * Settles once every list answered so far has its new names read and re-checked (and every
   * read sent since): a DELETE sent then goes after everything the registry has shown, not only
   * after the list it waited for. Returns the names listed lately that read as nothing yet (being
   * pushed or removed): the DELETE waits for another list while there are any.
   * @throws a read or re-check that failed (tried again with the next list).
   */
  async caughtUp(): Promise<string[]> {
    for (let checked = this.#checked; ; checked = this.#checked) {
      await checked;
      if (checked !== this.#checked) continue;
      const failedRead = this.#failedReads.values().next();
      if (!failedRead.done) throw failedRead.value;
      if (this.#unchecked.length > 0) throw this.#checkFailure;
      const now = performance.now();
      const young: string[] = [];
      for (const [tag, seen] of this.#present) {
        const known = this.#resolutions.get(tag);
        if (now - seen.first < YOUNG_MS && known?.answeredAt !== undefined && !known.settled)
          young.push(tag);
      }
      return young;
    }
  }

  /**
   * What `tag` points at, read after `since` (its image changed then): a read sent since is
   * shared, else one is sent now.
   */
  readSince(tag: string, since: number): Promise<Resolution> {
    const known = this.#resolutions.get(tag);
    if (known && known.at >= since) return known.result.catch(() => undefined);
    const result = this.#resolve(tag);
    // What it reads is re-checked like a new name's, and DELETEs wait for that.
    void this.#recheck([[tag, result]]).catch(() => {});
    return result.catch(() => undefined);
  }

  /**
   * Names in `list` whose latest read named `digest` (waiting for reads in flight), and those
   * first listed since `since` that read as nothing.
   */
  async namesOn(digest: string, list: TagList, since: number): Promise<string[]> {
    const out: string[] = [];
    for (const tag of list.names) {
      const known = this.#resolutions.get(tag);
      if (!known) continue;
      if (known.answeredAt === undefined) await known.result.catch(() => undefined);
      if (known.named?.resolution?.digest === digest) out.push(tag);
      else if (!known.settled && (this.#present.get(tag)?.first ?? 0) >= since) out.push(tag);
    }
    return out;
  }

  /** Ends the lists after one more, sent after this call; returns that list. */
  stop(): Promise<TagList | undefined> {
    return this.#schedule.stop();
  }

  /** Sends one list for `waiting` and takes in what it shows. False if it failed. */
  async #list(waiting: ListWaiter<TagList>[]): Promise<boolean> {
    const sentAt = performance.now();
    let names: Set<string>;
    try {
      names = new Set(await this.#client.listTags(this.#repo, { signal: this.#ctx.signal }));
    } catch (error) {
      for (const w of waiting) w.reject(error);
      if (mustStop(error, this.#ctx.signal)) this.#schedule.fail(error);
      return false;
    }
    const answeredAt = performance.now();
    this.lists++;
    const started: Array<[string, Promise<Resolution>]> = [];
    for (const tag of names) {
      // Removed by the reckoning of a list sent after this one: this list may have read it before,
      // or after it was pushed again. Not taken for present (the next list tells), but read and
      // re-checked all the same, as a DELETE may be waiting on this list.
      if ((this.#removedBy.get(tag) ?? Number.NEGATIVE_INFINITY) > sentAt) {
        if (!this.#resolutions.has(tag))
          started.push([tag, lookupTag(this.#client, this.#repo, tag, this.#ctx.signal)]);
        continue;
      }
      const seen = this.#present.get(tag);
      if (seen) {
        seen.sent = Math.max(seen.sent, sentAt);
        seen.answered = Math.max(seen.answered, answeredAt);
      } else this.#present.set(tag, { first: sentAt, sent: sentAt, answered: answeredAt });
      const known = this.#resolutions.get(tag);
      if (known) {
        // Read and named a digest (or still being read): known. A dangling name (its image gone)
        // is not read again; one that read as nothing is, now and then.
        if (known.answeredAt === undefined || known.settled) continue;
        const first = this.#present.get(tag)?.first ?? 0;
        const every = answeredAt - first < YOUNG_MS ? YOUNG_RETRY_MS : OLD_RETRY_MS;
        if (answeredAt - known.at < every) continue;
      }
      started.push([tag, this.#resolve(tag)]);
    }
    for (const [tag, seen] of this.#present) {
      // Shown by a list this one may have been read before: not known to be gone yet.
      if (names.has(tag) || sentAt < seen.answered) continue;
      this.#present.delete(tag);
      this.#removedBy.set(tag, sentAt);
      const known = this.#resolutions.get(tag);
      this.#resolutions.delete(tag);
      this.#failedReads.delete(tag);
      this.#watch.tags.delete(tag);
      this.#watch.unresolved.delete(tag);
      this.#onVanished({ tag, after: seen.sent, before: answeredAt, read: lastNamed(known) });
    }
    const list: TagList = { sentAt, answeredAt, names };
    const checked = this.#recheck(started);
    for (const w of waiting) checked.then(() => w.resolve(list), w.reject);
    return true;
  }

  /** Starts one GET of `tag`; its answer updates the watch. */
  #resolve(tag: string): Promise<Resolution> {
    const result = lookupTag(this.#client, this.#repo, tag, this.#ctx.signal).then(
      (resolution) => {
        entry.settled = resolution;
        entry.answeredAt = performance.now();
        if (resolution) entry.named = { resolution, answeredAt: entry.answeredAt };
        // A read answered after a newer one was sent tells the watch nothing new.
        if (this.#resolutions.get(tag) !== entry) return resolution;
        if (resolution?.present) {
          this.#watch.tags.set(tag, resolution.digest);
          this.#watch.unresolved.delete(tag);
        } else {
          this.#watch.tags.delete(tag);
          this.#watch.unresolved.add(tag);
        }
        this.#failedReads.delete(tag);
        return resolution;
      },
      (error: unknown) => {
        // Read again with the next list; the DELETEs waiting on this one fail with it.
        this.#watch.tags.delete(tag);
        if (this.#resolutions.get(tag) === entry) {
          this.#resolutions.delete(tag);
          this.#failedReads.set(tag, error);
        }
        throw error;
      },
    );
    const previous = this.#resolutions.get(tag);
    const entry: Resolving = {
      at: performance.now(),
      result,
      named:
        previous?.settled && previous.answeredAt !== undefined
          ? { resolution: previous.settled, answeredAt: previous.answeredAt }
          : previous?.named,
    };
    this.#resolutions.set(tag, entry);
    return result;
  }

  /** Re-checks the plan against the names resolved in `started`, after every earlier re-check. */
  #recheck(started: Array<[string, Promise<Resolution>]>): Promise<void> {
    const previous = this.#checked;
    const next = (async () => {
      const added: Array<[string, string]> = [];
      const reads = await Promise.allSettled(
        started.map(async ([tag, result]) => {
          const resolution = await result;
          if (resolution?.present) added.push([tag, resolution.digest]);
        }),
      );
      await previous;
      added.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const batch = [...this.#unchecked, ...added];
      this.#unchecked = [];
      try {
        await recheckAdded(this.#ctx, this.#repo, batch);
      } catch (error) {
        // Checked again with the next list; until then no DELETE leaves.
        this.#unchecked = batch;
        this.#checkFailure = error;
        throw error;
      }
      const failed = reads.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    // A failed re-check fails the DELETEs waiting on it; the next list tries again.
    this.#checked = next.catch(() => {});
    return next;
  }
}

/** A vanished name's last read that named a digest, once the read in flight (if any) is answered. */
async function lastNamed(known: Resolving | undefined): Promise<KnownRead | undefined> {
  if (!known) return undefined;
  await known.result.catch(() => undefined);
  return known.named;
}
