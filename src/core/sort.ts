/**
 * Orders ids by UTF-16 code units, like `Array.prototype.sort()` without a comparator but without
 * its string conversion. Locale-independent, so plans sort the same on every machine.
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const DIGIT_RUN = /^\d+$/;
const CHUNK = /\d+|\D+/g;

/**
 * A name split for natural order: runs of digits (leading zeros dropped, marked by a leading
 * `\u0000` so they never equal text) and runs of other characters.
 */
export function naturalChunks(name: string): string[] {
  const chunks = name.match(CHUNK) ?? [];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i] as string;
    if (DIGIT_RUN.test(c)) chunks[i] = `\u0000${c.replace(/^0+(?=\d)/, '')}`;
  }
  return chunks;
}

/** Compares two {@link naturalChunks} results; digit runs compare as numbers. */
export function compareChunks(xs: readonly string[], ys: readonly string[]): number {
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i] as string;
    const y = ys[i] as string;
    if (x === y) continue;
    const xd = x.charCodeAt(0) === 0;
    const yd = y.charCodeAt(0) === 0;
    if (xd && yd) return x.length - y.length || compareIds(x, y);
    return compareIds(x, y);
  }
  return xs.length - ys.length;
}

/**
 * Natural order: runs of digits compare as numbers (`main-9` before `main-10`), other runs by code
 * unit; equal-looking names (`v01`, `v1`) fall back to a plain comparison.
 */
export function compareNatural(a: string, b: string): number {
  return compareChunks(naturalChunks(a), naturalChunks(b)) || compareIds(a, b);
}

/** `tags` sorted in {@link compareNatural} order (a copy): how lists of tags are shown to people. */
export function naturalSorted(tags: readonly string[]): string[] {
  return [...tags].sort(compareNatural);
}

/** Untag operations in natural order of their tags (a copy). */
export function untagsInNaturalOrder<T extends { tag: string }>(ops: readonly T[]): T[] {
  return [...ops].sort((a, b) => compareNatural(a.tag, b.tag));
}

/** Below this many strings a segment is sorted by insertion instead of by another radix pass. */
const SMALL_SEGMENT = 32;
/** Code-unit spread above which a segment falls back to a comparison sort (counting would be sparse). */
const MAX_SPREAD = 1024;

/**
 * Sorts strings in place in {@link compareIds} order and returns the array.
 * @internal
 */
export function sortIds(ids: string[]): string[] {
  const order = new Int32Array(ids.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  sortByIds(order, ids);
  const copy = ids.slice();
  for (let i = 0; i < order.length; i++) ids[i] = copy[order[i] as number] as string;
  return ids;
}

/**
 * Sorts `order` (indices into `names`) in place so that their names follow {@link compareIds}.
 * An MSD radix sort on UTF-16 code units that skips prefixes a whole segment shares: ids such as
 * `sha256:<hex>` are read a handful of times each instead of twice per comparison, which is what
 * costs on millions of ids. Already sorted input is detected in one pass.
 * @internal
 */
export function sortByIds(order: Int32Array, names: readonly (string | undefined)[]): void {
  const n = order.length;
  const name = (i: number): string => names[order[i] as number] as string;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) sorted = name(i - 1) <= name(i);
  if (sorted) return;
  // Start past the prefix every name shares (`sha256:`, a repository): one pass instead of one per unit.
  const shared = sharedPrefix(order, names as readonly string[], 0, n, 0);
  radixSegment(
    order,
    names as readonly string[],
    new Int32Array(n),
    new Int32Array(n),
    new Int32Array(n),
    0,
    n,
    shared,
  );
}

/** Sorts `order[lo, hi)`, whose names all share their first `depth` code units. */
function radixSegment(
  order: Int32Array,
  names: readonly string[],
  aux: Int32Array,
  keys: Int32Array,
  keys2: Int32Array,
  lo: number,
  hi: number,
  depth: number,
): void {
  let d = depth;
  for (;;) {
    if (hi - lo <= SMALL_SEGMENT) {
      insertionSort(order, names, lo, hi);
      return;
    }
    // Two code units per pass where their combined spread is small (hex digests: 256 buckets).
    // A unit's key is its code + 1, or 0 past the end (a prefix sorts before its extensions).
    let min1 = 0x10001;
    let max1 = -1;
    let min2 = 0x10001;
    let max2 = -1;
    for (let i = lo; i < hi; i++) {
      const s = names[order[i] as number] as string;
      const k1 = d < s.length ? s.charCodeAt(d) + 1 : 0;
      const k2 = d + 1 < s.length ? s.charCodeAt(d + 1) + 1 : 0;
      keys[i] = k1;
      keys2[i] = k2;
      if (k1 < min1) min1 = k1;
      if (k1 > max1) max1 = k1;
      if (k2 < min2) min2 = k2;
      if (k2 > max2) max2 = k2;
    }
    if (min1 === max1) {
      if (min1 === 0) return; // all equal
      d += 1 + sharedPrefix(order, names, lo, hi, d + 1);
      continue;
    }
    const span1 = max1 - min1 + 1;
    const span2 = max2 - min2 + 1;
    let width: number;
    if (span1 * span2 <= MAX_SPREAD * 4) width = 2;
    else if (span1 <= MAX_SPREAD) width = 1;
    else {
      const part = Array.from(order.subarray(lo, hi));
      part.sort((x, y) => compareIds(names[x] as string, names[y] as string));
      order.set(part, lo);
      return;
    }
    const buckets = width === 2 ? span1 * span2 : span1;
    const starts = new Int32Array(buckets + 1);
    for (let i = lo; i < hi; i++) {
      const b =
        (width === 2
          ? ((keys[i] as number) - min1) * span2 + (keys2[i] as number) - min2
          : (keys[i] as number) - min1) + 1;
      starts[b] = (starts[b] as number) + 1;
    }
    for (let b = 1; b <= buckets; b++)
      starts[b] = (starts[b] as number) + (starts[b - 1] as number);
    const fill = starts.slice();
    for (let i = lo; i < hi; i++) {
      const b =
        width === 2
          ? ((keys[i] as number) - min1) * span2 + (keys2[i] as number) - min2
          : (keys[i] as number) - min1;
      const at = fill[b] as number;
      aux[lo + at] = order[i] as number;
      fill[b] = at + 1;
    }
    order.set(aux.subarray(lo, hi), lo);
    for (let b = 0; b < buckets; b++) {
      const from = lo + (starts[b] as number);
      const to = lo + (starts[b + 1] as number);
      if (to - from < 2) continue;
      // names that end inside the bucket's units are all equal
      const ended =
        width === 2 ? b % span2 === -min2 || Math.floor(b / span2) === -min1 : b === -min1;
      if (!ended) radixSegment(order, names, aux, keys, keys2, from, to, d + width);
    }
    return;
  }
}

/** Length of the prefix from `depth` on that every name of `order[lo, hi)` shares. */
function sharedPrefix(
  order: Int32Array,
  names: readonly string[],
  lo: number,
  hi: number,
  depth: number,
): number {
  const first = names[order[lo] as number] as string;
  let shared = first.length - depth;
  for (let i = lo + 1; i < hi && shared > 0; i++) {
    const s = names[order[i] as number] as string;
    const limit = Math.min(shared, s.length - depth);
    let k = 0;
    while (k < limit && s.charCodeAt(depth + k) === first.charCodeAt(depth + k)) k++;
    shared = k;
  }
  return Math.max(0, shared);
}

function insertionSort(order: Int32Array, names: readonly string[], lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const x = order[i] as number;
    const name = names[x] as string;
    let j = i - 1;
    while (j >= lo && (names[order[j] as number] as string) > name) {
      order[j + 1] = order[j] as number;
      j--;
    }
    order[j + 1] = x;
  }
}

const DIGEST_PREFIX = 'sha256:';
/** Hex digits read for a key; their top 30 bits are kept, a small integer on every platform. */
const KEY_HEX_DIGITS = 8;

/**
 * A sort key for a `sha256:<hex>` id: its first hex digits as a 30-bit integer, so that a larger
 * key means a later id in {@link compareIds} order (equal keys say nothing). Any other id gets -1,
 * which sends a sort of it back to comparing ids.
 * @internal
 */
export function digestSortKey(id: string): number {
  if (!id.startsWith(DIGEST_PREFIX) || id.length < DIGEST_PREFIX.length + KEY_HEX_DIGITS) return -1;
  let value = 0;
  for (let i = 0; i < KEY_HEX_DIGITS; i++) {
    const c = id.charCodeAt(DIGEST_PREFIX.length + i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return Math.floor(value / 4);
}

/** Bits per counting pass: 256 buckets keep the scattered writes within the cache. */
const KEY_BITS = 8;
const KEY_MASK = (1 << KEY_BITS) - 1;

/**
 * Sorts `order` (indices into `names`) like {@link sortByIds}, using precomputed
 * {@link digestSortKey}s: four counting passes over the keys, then only ids with equal keys are
 * compared. The ids themselves are read only for those ties, which on millions of digests are a
 * handful. Falls back to {@link sortByIds} when any id has no key.
 * @internal
 */
export function sortByKeys(
  order: Int32Array,
  keys: readonly number[],
  names: readonly (string | undefined)[],
): void {
  const n = order.length;
  const key = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = keys[order[i] as number] as number;
    if (k < 0) {
      sortByIds(order, names);
      return;
    }
    key[i] = k;
  }
  const otherOrder = new Int32Array(n);
  const otherKey = new Int32Array(n);
  const count = new Int32Array(KEY_MASK + 2);
  // a stable LSD radix sort, a byte per pass, back and forth between the two pairs of arrays
  for (let shift = 0; shift < 32; shift += 2 * KEY_BITS) {
    count.fill(0);
    countingPass(order, key, otherOrder, otherKey, count, shift);
    count.fill(0);
    countingPass(otherOrder, otherKey, order, key, count, shift + KEY_BITS);
  }
  for (let lo = 0; lo < n; ) {
    let hi = lo + 1;
    while (hi < n && key[hi] === key[lo]) hi++;
    if (hi - lo > SMALL_SEGMENT) sortByIds(order.subarray(lo, hi), names);
    else if (hi - lo > 1) insertionSort(order, names as readonly string[], lo, hi);
    lo = hi;
  }
}

function countingPass(
  fromOrder: Int32Array,
  fromKey: Int32Array,
  toOrder: Int32Array,
  toKey: Int32Array,
  count: Int32Array,
  shift: number,
): void {
  const n = fromOrder.length;
  for (let i = 0; i < n; i++) {
    const b = (((fromKey[i] as number) >> shift) & KEY_MASK) + 1;
    count[b] = (count[b] as number) + 1;
  }
  for (let b = 1; b < count.length; b++) count[b] = (count[b] as number) + (count[b - 1] as number);
  for (let i = 0; i < n; i++) {
    const k = fromKey[i] as number;
    const b = (k >> shift) & KEY_MASK;
    const at = count[b] as number;
    toOrder[at] = fromOrder[i] as number;
    toKey[at] = k;
    count[b] = at + 1;
  }
}
