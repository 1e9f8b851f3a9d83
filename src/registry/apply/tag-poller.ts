/**
 * One repository's tags, listed again and again while its DELETEs run (each list sent when the
 * last one is answered). distribution's digest DELETE removes every tag on the digest, and its
 * tag list gives names only, so the apply needs three things from these lists: a list sent after
 * a slot freed, with its new names resolved, before each DELETE; the names that vanished between
 * two lists, with the times that bound when; and which digest each name pointed at.
 */
import type { RegistryClient } from '../client.js';
import { lookupTag, type Resolution, type TagWatch } from '../tag-watch.js';
import { type Context, mustStop } from './context.js';
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
  /** What it pointed at as last resolved (a promise while its GET is in flight). */
  resolution: Promise<Resolution>;
  /** When that resolution was answered (0: before this poller started); unset while in flight. */
  knownAt: number | undefined;
}

/** How long a listed name that resolved to nothing waits before it is read again. */
const UNRESOLVED_RETRY_MS = 250;

interface Resolving {
  /** When the GET was sent and answered (0 for names known before the poller started). */
  at: number;
  answeredAt?: number;
  result: Promise<Resolution>;
  settled?: Resolution;
}

interface Waiter {
  resolve: (list: TagList) => void;
  reject: (error: unknown) => void;
}

/** See the file comment. `start()` begins listing; `stop()` ends after one more list. */
export class TagPoller {
  /** Lists answered so far. */
  lists = 0;
  readonly #ctx: Context;
  readonly #repo: string;
  readonly #watch: TagWatch;
  readonly #client: RegistryClient;
  readonly #onVanished: (vanished: Vanished) => void;
  /** When the last list that showed each name was sent. */
  readonly #lastSeen = new Map<string, number>();
  /** Each listed name's latest resolution (settled or not). */
  readonly #resolutions = new Map<string, Resolving>();
  #previous: ReadonlySet<string>;
  #waiting: Waiter[] = [];
  /** Settles once every resolution started so far is re-checked against the plan. */
  #checked: Promise<void> = Promise.resolve();
  #stopping = false;
  #loop: Promise<void> | undefined;
  #failure: unknown;

  constructor(
    ctx: Context,
    repo: string,
    watch: TagWatch,
    onVanished: (vanished: Vanished) => void,
  ) {
    this.#ctx = ctx;
    this.#repo = repo;
    this.#watch = watch;
    this.#client = ctx.client;
    this.#onVanished = onVanished;
    this.#previous = new Set([...watch.tags.keys(), ...watch.unresolved]);
    for (const [tag, digest] of watch.tags) {
      const settled = { digest, present: true };
      this.#resolutions.set(tag, {
        at: 0,
        answeredAt: 0,
        result: Promise.resolve(settled),
        settled,
      });
    }
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * A list sent after this call, once its new names are resolved and every planned deletion
   * they reach is in `ctx.saved`.
   * @throws what listing or resolving failed with.
   */
  listSentFromNow(): Promise<TagList> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** What `tag` was last resolved to (a settled or pending read), if it was ever resolved. */
  resolutionOf(tag: string): Promise<Resolution> | undefined {
    return this.#resolutions.get(tag)?.result;
  }

  /** Reads `tag` again now (its image changed since it was read). */
  reresolve(tag: string): Promise<Resolution> {
    return this.#resolve(tag);
  }

  /** Names in `list` whose latest resolution named `digest` (waiting for those in flight). */
  async namesOn(digest: string, list: TagList): Promise<string[]> {
    const out: string[] = [];
    for (const tag of list.names) {
      const known = this.#resolutions.get(tag);
      if (!known) continue;
      const resolution = known.settled ?? (await known.result);
      if (resolution?.digest === digest) out.push(tag);
    }
    return out;
  }

  /** Ends the loop after one more list, sent after this call; returns that list. */
  async stop(): Promise<TagList | undefined> {
    const last = this.#loop ? this.listSentFromNow().catch(() => undefined) : undefined;
    this.#stopping = true;
    await this.#loop;
    return last;
  }

  async #run(): Promise<void> {
    for (;;) {
      const waiting = this.#waiting;
      this.#waiting = [];
      if (this.#stopping && waiting.length === 0) return;
      const sentAt = performance.now();
      let names: Set<string>;
      try {
        names = new Set(await this.#client.listTags(this.#repo, { signal: this.#ctx.signal }));
      } catch (error) {
        for (const w of waiting) w.reject(error);
        if (mustStop(error, this.#ctx.signal)) {
          this.#failure = error;
          for (const w of this.#waiting) w.reject(error);
          this.#waiting = [];
          return;
        }
        // The next waiter gets its own try; a pause keeps a failing registry from being hammered.
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const answeredAt = performance.now();
      this.lists++;
      for (const tag of names) this.#lastSeen.set(tag, sentAt);
      for (const tag of this.#previous) {
        if (names.has(tag)) continue;
        const known = this.#resolutions.get(tag);
        this.#resolutions.delete(tag);
        this.#watch.tags.delete(tag);
        this.#watch.unresolved.delete(tag);
        this.#onVanished({
          tag,
          after: this.#lastSeen.get(tag) ?? Number.NEGATIVE_INFINITY,
          before: answeredAt,
          resolution: known?.result ?? Promise.resolve(undefined),
          knownAt: known?.answeredAt,
        });
      }
      this.#previous = names;
      const started: Array<[string, Promise<Resolution>]> = [];
      for (const tag of names) {
        const known = this.#resolutions.get(tag);
        if (known && !this.#watch.unresolved.has(tag)) continue;
        if (known && answeredAt - known.at < UNRESOLVED_RETRY_MS) continue;
        started.push([tag, this.#resolve(tag)]);
      }
      const list: TagList = { sentAt, answeredAt, names };
      const checked = this.#recheck(started);
      for (const w of waiting) checked.then(() => w.resolve(list), w.reject);
    }
  }

  /** Starts one GET of `tag`; its answer updates the watch. */
  #resolve(tag: string): Promise<Resolution> {
    const result = lookupTag(this.#client, this.#repo, tag, this.#ctx.signal).then(
      (resolution) => {
        if (resolution?.present) {
          this.#watch.tags.set(tag, resolution.digest);
          this.#watch.unresolved.delete(tag);
        } else {
          this.#watch.tags.delete(tag);
          this.#watch.unresolved.add(tag);
        }
        entry.settled = resolution;
        entry.answeredAt = performance.now();
        return resolution;
      },
      (error: unknown) => {
        // Read again with the next list; the DELETEs waiting on this one fail with it.
        this.#watch.tags.delete(tag);
        this.#watch.unresolved.add(tag);
        throw error;
      },
    );
    const entry: Resolving = {
      at: performance.now(),
      result,
    };
    this.#resolutions.set(tag, entry);
    return result;
  }

  /** Re-checks the plan against the names resolved in `started`, after every earlier re-check. */
  #recheck(started: Array<[string, Promise<Resolution>]>): Promise<void> {
    const previous = this.#checked;
    const next = (async () => {
      const added: Array<[string, string]> = [];
      await Promise.all(
        started.map(async ([tag, result]) => {
          const resolution = await result;
          if (resolution?.present) added.push([tag, resolution.digest]);
        }),
      );
      await previous;
      added.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      await recheckAdded(this.#ctx, this.#repo, added);
    })();
    // A failed re-check fails the DELETEs waiting on it, not every later one.
    this.#checked = next.catch(() => {});
    return next;
  }
}
