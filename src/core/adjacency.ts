const END = -1;

/**
 * A list of small integers per slot (an image's packed edges or blob links), kept in insertion
 * order as linked entries in a few growable arrays. A million images then cost a handful of arrays
 * instead of millions of small ones, which is what made building and planning large graphs spend
 * their time in the garbage collector. The arrays are plain arrays of small integers, not typed
 * arrays: V8 counts typed-array memory as external, and a build that allocates more than a few
 * dozen MB of it sets off a full collection of the whole heap (seconds at a million images).
 *
 * Hot loops walk a list directly: `for (let e = head[slot]; e !== -1; e = next[e]) value[e]`.
 * Read the arrays after the last change.
 * @internal
 */
export class AdjacencyLists {
  /** First entry of each slot's list, or -1. */
  head: number[];
  /** Last entry of each slot's list, or -1. */
  tail: number[];
  /** The entry after each entry in its list, or -1. */
  next: number[];
  /** Each entry's value. */
  value: number[];
  #used = 0;

  constructor(slots = 16, entries = 16) {
    this.head = new Array<number>(slots).fill(END);
    this.tail = new Array<number>(slots).fill(END);
    this.next = new Array<number>(entries).fill(0);
    this.value = new Array<number>(entries).fill(0);
  }

  /** Makes room for slots `0 … count - 1` (new slots start empty). */
  ensureSlots(count: number): void {
    if (count <= this.head.length) return;
    const size = Math.max(count, this.head.length * 2);
    this.head = grown(this.head, size, END);
    this.tail = grown(this.tail, size, END);
  }

  /** Makes room for `count` more entries at once (bulk loads grow once instead of doubling). */
  reserve(count: number): void {
    const size = this.#used + count;
    if (size <= this.next.length) return;
    this.next = grown(this.next, size, 0);
    this.value = grown(this.value, size, 0);
  }

  /** Appends `v` to `slot`'s list. */
  add(slot: number, v: number): void {
    if (this.#used === this.next.length) {
      const size = this.next.length * 2;
      this.next = grown(this.next, size, 0);
      this.value = grown(this.value, size, 0);
    }
    const e = this.#used++;
    this.value[e] = v;
    this.next[e] = END;
    const last = this.tail[slot] as number;
    if (last === END) this.head[slot] = e;
    else this.next[last] = e;
    this.tail[slot] = e;
  }

  /** Whether `slot`'s list holds `a` or `b` (a blob link in either role). */
  includesEither(slot: number, a: number, b: number): boolean {
    for (let e = this.head[slot] as number; e !== END; e = this.next[e] as number) {
      const v = this.value[e];
      if (v === a || v === b) return true;
    }
    return false;
  }

  /** Removes the first `v` from `slot`'s list, keeping the order of the rest. */
  remove(slot: number, v: number): void {
    let prev = END;
    for (let e = this.head[slot] as number; e !== END; prev = e, e = this.next[e] as number) {
      if (this.value[e] !== v) continue;
      const after = this.next[e] as number;
      if (prev === END) this.head[slot] = after;
      else this.next[prev] = after;
      if (this.tail[slot] === e) this.tail[slot] = prev;
      return;
    }
  }

  /** Empties `slot`'s list (its entries are not reused). */
  clear(slot: number): void {
    this.head[slot] = END;
    this.tail[slot] = END;
  }

  /** `slot`'s list as an array, in insertion order. */
  values(slot: number): number[] {
    const out: number[] = [];
    for (let e = this.head[slot] as number; e !== END; e = this.next[e] as number)
      out.push(this.value[e] as number);
    return out;
  }
}

function grown(array: number[], size: number, fill: number): number[] {
  const old = array.length;
  array.length = size;
  array.fill(fill, old);
  return array;
}
