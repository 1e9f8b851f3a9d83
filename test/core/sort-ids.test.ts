import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareIds, digestSortKey, sortByIds, sortByKeys, sortIds } from '../../src/core/sort.js';

const reference = (xs: readonly string[]) => [...xs].sort(compareIds);

/** A seeded linear congruential generator, so large inputs are the same on every run. */
function seededRandom(start: number): () => number {
  let seed = start;
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 8;
  };
}

/** `count` ids `sha256:` + `length` hex digits. */
function randomDigests(rand: () => number, count: number, length: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    let d = 'sha256:';
    for (let k = 0; k < length; k++) d += '0123456789abcdef'[rand() % 16];
    ids.push(d);
  }
  return ids;
}

describe('sortIds (radix sort of ids)', () => {
  it('orders like compareIds for arbitrary strings, including long shared prefixes', () => {
    const id = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc
        .string({ unit: fc.constantFrom('a', 'b', '0', 'f'), maxLength: 8 })
        .map((s) => `sha256:${s}`),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(id, { maxLength: 400 }), (xs) => {
        expect(sortIds([...xs])).toEqual(reference(xs));
      }),
      { numRuns: 100 },
    );
  });

  it('sorts large segments by radix passes (hex digests, tags sharing prefixes, duplicates)', () => {
    const rand = seededRandom(1);
    const ids = randomDigests(rand, 3000, 12);
    for (let i = 0; i < 3000; i++)
      ids.push(`team-${rand() % 3}/svc-${rand() % 5}:1.${rand() % 40}`);
    ids.push('sha256:', 'sha256', 'sha256:0', '\u{1F600}', '\uffff', '');
    expect(sortIds([...ids])).toEqual(reference(ids));
    const order = Int32Array.from(ids.keys());
    sortByIds(order, ids);
    expect(Array.from(order, (i) => ids[i])).toEqual(reference(ids));
  });
});

describe('sortByKeys (digest keys, ties compared)', () => {
  const sortedByKeys = (ids: readonly string[]): string[] => {
    const order = Int32Array.from(ids.keys());
    sortByKeys(order, ids.map(digestSortKey), ids);
    return Array.from(order, (i) => ids[i] as string);
  };

  it('gives later digests larger or equal keys, and -1 to anything that is not sha256:<hex>', () => {
    expect(digestSortKey(`sha256:${'0'.repeat(64)}`)).toBe(0);
    expect(digestSortKey(`sha256:${'f'.repeat(64)}`)).toBe(2 ** 30 - 1);
    expect(digestSortKey('sha256:0123abcb')).toBeLessThan(digestSortKey('sha256:0123abcc'));
    expect(digestSortKey('sha256:0123abcc')).toBe(digestSortKey('sha256:0123abcf'));
    expect(digestSortKey('sha256:0123abc')).toBe(-1);
    expect(digestSortKey('sha256:0123ABCD')).toBe(-1);
    expect(digestSortKey(`sha512:${'0'.repeat(128)}`)).toBe(-1);
    expect(digestSortKey('layer-1')).toBe(-1);
  });

  it('orders like compareIds: digests with long shared prefixes, ties, and mixed ids', () => {
    const hexString = (min: number, max: number) =>
      fc.string({
        unit: fc.constantFrom('0', '1', '9', 'a', 'f'),
        minLength: min,
        maxLength: max,
      });
    const digest = fc.oneof(
      hexString(8, 12).map((s) => `sha256:${s}`),
      // same first eight digits: equal keys that only the full ids can order
      hexString(0, 4).map((s) => `sha256:00000000${s}`),
    );
    const anyId = fc.oneof(digest, fc.string({ maxLength: 9 }));
    fc.assert(
      fc.property(fc.array(digest, { maxLength: 300 }), (xs) => {
        expect(sortedByKeys(xs)).toEqual(reference(xs));
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(fc.array(anyId, { maxLength: 200 }), (xs) => {
        expect(sortedByKeys(xs)).toEqual(reference(xs));
      }),
      { numRuns: 100 },
    );
  });

  it('sorts many random digests through every counting pass', () => {
    const ids = randomDigests(seededRandom(7), 20000, 10);
    ids.push(...ids.slice(0, 50)); // duplicates
    expect(sortedByKeys(ids)).toEqual(reference(ids));
  });
});
