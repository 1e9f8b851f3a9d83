import { compareIds, sortByIds } from '../sort.js';

/**
 * The tags of an image graph: each tag names one image slot. Records are small integers so that
 * the sorted tag list and the positions the planner flags are typed arrays, not maps.
 * @internal
 */
export class TagTable {
  /** Tag name → record; a record's name and image slot sit in the two arrays below. */
  readonly #records = new Map<string, number>();
  readonly #name: (string | undefined)[] = [];
  readonly #slot: number[] = [];
  readonly #free: number[] = [];
  /** The tags of each image slot, in the order they were set. */
  readonly #bySlot: (string[] | undefined)[] = [];
  #sorted: string[] | undefined;
  #sortedSlots: Int32Array | undefined;
  /** Each record's position in the sorted list (valid while that list is cached). */
  #position: Int32Array | undefined;
  #ranks: Int32Array | undefined;
  /** The image ranks {@link TagTable.sortedRanks} was computed from. */
  #ranksFrom: Int32Array | undefined;

  get size(): number {
    return this.#records.size;
  }

  /** Makes room for the tags of the next image slot. */
  addSlot(): void {
    this.#bySlot.push(undefined);
  }

  has(tag: string): boolean {
    return this.#records.has(tag);
  }

  /** The image slot `tag` points at, or undefined. */
  slotOf(tag: string): number | undefined {
    const record = this.#records.get(tag);
    return record === undefined ? undefined : this.#slot[record];
  }

  /** The tags of `slot`, sorted (a new array). */
  ofSlot(slot: number): string[] {
    const list = this.#bySlot[slot];
    return list ? [...list].sort(compareIds) : [];
  }

  /** Points `tag` at `slot`, moving it if it points elsewhere. */
  set(tag: string, slot: number): void {
    let record = this.#records.get(tag);
    if (record !== undefined) {
      const old = this.#slot[record] as number;
      if (old === slot) return;
      this.#unlink(tag, old);
    } else {
      record = this.#free.pop() ?? this.#name.length;
      this.#name[record] = tag;
      this.#records.set(tag, record);
    }
    this.#slot[record] = slot;
    this.#sorted = undefined;
    const list = this.#bySlot[slot];
    if (list) list.push(tag);
    else this.#bySlot[slot] = [tag];
  }

  /** Removes `tag`; returns whether it existed. */
  remove(tag: string): boolean {
    const record = this.#records.get(tag);
    if (record === undefined) return false;
    this.#unlink(tag, this.#slot[record] as number);
    this.#drop(tag, record);
    return true;
  }

  /** Removes every tag of `slot` (its image is going). */
  removeSlot(slot: number): void {
    const list = this.#bySlot[slot];
    if (!list) return;
    for (const tag of list) this.#drop(tag, this.#records.get(tag) as number);
    this.#bySlot[slot] = undefined;
  }

  /** All tag names, sorted (cached until a tag changes). Do not mutate. */
  sorted(): readonly string[] {
    if (this.#sorted) return this.#sorted;
    // Sorts the records by name once, filling the names, slots and positions together.
    const names = this.#name;
    const order = new Int32Array(this.#records.size);
    let at = 0;
    for (let record = 0; record < names.length; record++)
      if (names[record] !== undefined) order[at++] = record;
    sortByIds(order, names);
    const sorted: string[] = new Array(order.length);
    const slots = new Int32Array(order.length);
    const position = new Int32Array(names.length);
    for (let i = 0; i < order.length; i++) {
      const record = order[i] as number;
      sorted[i] = names[record] as string;
      slots[i] = this.#slot[record] as number;
      position[record] = i;
    }
    this.#sorted = sorted;
    this.#sortedSlots = slots;
    this.#position = position;
    this.#ranks = undefined;
    return sorted;
  }

  /** The image slot of each tag of {@link TagTable.sorted}. */
  sortedSlots(): Int32Array {
    this.sorted();
    return this.#sortedSlots as Int32Array;
  }

  /**
   * `rank[slot]` for each tag of {@link TagTable.sorted}; cached until a tag changes or another
   * `rank` array (a changed image set) is passed.
   */
  sortedRanks(rank: Int32Array): Int32Array {
    const slots = this.sortedSlots();
    if (this.#ranks && this.#ranksFrom === rank) return this.#ranks;
    const ranks = new Int32Array(slots.length);
    for (let i = 0; i < slots.length; i++) ranks[i] = rank[slots[i] as number] as number;
    this.#ranks = ranks;
    this.#ranksFrom = rank;
    return ranks;
  }

  /**
   * Sets `flags[i]` for each name's position `i` in {@link TagTable.sorted}; returns the names
   * that are not tags.
   */
  flagSorted(names: Iterable<string>, flags: Uint8Array): string[] {
    this.sorted();
    const records = this.#records;
    const position = this.#position as Int32Array;
    const unknown: string[] = [];
    for (const name of names) {
      const record = records.get(name);
      if (record === undefined) unknown.push(name);
      else flags[position[record] as number] = 1;
    }
    return unknown;
  }

  #unlink(tag: string, slot: number): void {
    const list = this.#bySlot[slot];
    if (!list) return;
    const i = list.indexOf(tag);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#bySlot[slot] = undefined;
  }

  #drop(tag: string, record: number): void {
    this.#records.delete(tag);
    this.#name[record] = undefined;
    this.#slot[record] = -1;
    this.#free.push(record);
    this.#sorted = undefined;
  }
}
