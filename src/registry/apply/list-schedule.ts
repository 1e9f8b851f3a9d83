/**
 * When one repository's tag lists are sent, for {@link TagPoller} (which takes in what they show):
 * - for DELETEs whose turn came: at once, even while other lists are in flight (up to one per
 *   DELETE slot), shared by the waiters that arrive within one turn of the event loop. Waiting
 *   for the list in flight and then one more cost two round trips per DELETE;
 * - for what went with a DELETE that ended: the next list sent once the lists in flight then are
 *   answered (it holds no slot, so it gets no list of its own);
 * - while DELETEs are in flight, or wait for the names their list showed to be read: whenever none
 *   was sent for `IN_FLIGHT_LIST_MS`, so that a tag pushed onto an image during its slow DELETE is
 *   seen (and read) before the DELETE takes it. Back to back, these took about a fifth of the
 *   registry's requests from the DELETEs (bench:race);
 * - never while no DELETE is in flight or waiting.
 */

/** While DELETEs are in flight and none waits for a list, one is sent this long after the last. */
export const IN_FLIGHT_LIST_MS = 25;

/** The pause after a failed list before the next one, so that a failing registry is not hammered. */
const FAILED_LIST_PAUSE_MS = 20;

/** One call waiting for a list. */
export interface ListWaiter<T> {
  resolve: (list: T) => void;
  reject: (error: unknown) => void;
}

/**
 * See the file comment. `send` sends one list for the waiters it is given, resolves or rejects
 * each of them, and answers whether the list was answered.
 */
export class ListSchedule<T> {
  readonly #maxLists: number;
  readonly #send: (waiting: ListWaiter<T>[]) => Promise<boolean>;
  readonly #name: string;
  /** Waiters a list is sent for at once. */
  #waiting: ListWaiter<T>[] = [];
  /** Waiters served by the next list sent for any reason (no list is sent for them at once). */
  #passive: ListWaiter<T>[] = [];
  #started = false;
  #ended = false;
  #failure: unknown;
  /** Lists sent and not answered yet, at most `#maxLists`. */
  readonly #inFlight = new Set<Promise<void>>();
  /** A list is due once the waiters arriving in this turn of the event loop are in. */
  #due = false;
  /** No list is sent before this (`performance.now()`): the last one failed. */
  #pausedUntil = 0;
  /** When the last list was sent. */
  #lastSentAt = Number.NEGATIVE_INFINITY;
  /** DELETEs in flight. */
  #deletes = 0;
  /** Waiters not served yet (their list sent, or answered and its names still being read). */
  #unserved = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `maxLists`: lists in flight at once at most; `name` names the lists in errors. */
  constructor(
    maxLists: number,
    send: (waiting: ListWaiter<T>[]) => Promise<boolean>,
    name: string,
  ) {
    this.#maxLists = Math.max(1, maxLists);
    this.#send = send;
    this.#name = name;
  }

  /** Lists may be sent from now on. */
  start(): void {
    this.#started = true;
    this.#sendIfDue();
  }

  /** A list sent after this call (`now`: one is sent at once; `next`: the next one sent). */
  next(when: 'now' | 'next'): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.reject(new Error(`the tag lists of ${this.#name} ended`));
    const queue = when === 'now' ? this.#waiting : this.#passive;
    const list = new Promise<T>((resolve, reject) => queue.push({ resolve, reject }));
    this.#unserved++;
    const served = () => {
      this.#unserved--;
    };
    list.then(served, served);
    if (when === 'next') this.#sendIfDue();
    else if (!this.#due) {
      this.#due = true;
      setImmediate(() => {
        this.#due = false;
        this.#sendIfDue();
      });
    }
    return list;
  }

  /** {@link next}, once every list in flight now was answered. */
  async afterInFlight(when: 'now' | 'next'): Promise<T> {
    await Promise.all([...this.#inFlight]);
    return this.next(when);
  }

  /** A DELETE left (`+1`) or ended (`-1`). */
  inFlight(change: 1 | -1): void {
    this.#deletes += change;
    this.#sendIfDue();
  }

  /** No list is sent after a failure that ends the run; the waiters queued fail with it. */
  fail(error: unknown): void {
    this.#failure ??= error;
    for (const w of [...this.#waiting, ...this.#passive]) w.reject(error);
    this.#waiting = [];
    this.#passive = [];
  }

  /** Ends the lists after one more, sent once those in flight were answered; returns that list. */
  async stop(): Promise<T | undefined> {
    const last = this.#started ? await this.afterInFlight('now').catch(() => undefined) : undefined;
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    this.#end();
    return last;
  }

  /** Sends a list if one is due now (else sets a timer for when it is). */
  #sendIfDue(): void {
    if (!this.#started || this.#ended || this.#failure !== undefined) return;
    const now = performance.now();
    let at: number;
    if (this.#waiting.length > 0) {
      if (this.#inFlight.size >= this.#maxLists) return;
      at = this.#pausedUntil;
    } else {
      if ((this.#deletes === 0 && this.#unserved === 0) || this.#inFlight.size > 0) return;
      at = Math.max(this.#pausedUntil, this.#lastSentAt + IN_FLIGHT_LIST_MS);
    }
    if (at > now) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#sendIfDue();
      }, at - now);
      return;
    }
    this.#lastSentAt = now;
    const waiting = [...this.#waiting, ...this.#passive];
    this.#waiting = [];
    this.#passive = [];
    const list: Promise<void> = this.#send(waiting)
      .catch((error: unknown) => {
        // Not expected (`send` answers its own failures): end rather than hang the waiters.
        for (const w of waiting) w.reject(error);
        this.#failure ??= error;
        return false;
      })
      .then((answered) => {
        this.#inFlight.delete(list);
        if (!answered) this.#pausedUntil = performance.now() + FAILED_LIST_PAUSE_MS;
        if (this.#failure !== undefined) this.#end();
        else this.#sendIfDue();
      });
    this.#inFlight.add(list);
  }

  /** No list is sent any more; the waiters left fail with the reason. */
  #end(): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    const error = this.#failure ?? new Error(`the tag lists of ${this.#name} ended`);
    for (const w of [...this.#waiting, ...this.#passive]) w.reject(error);
    this.#waiting = [];
    this.#passive = [];
  }
}
