import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareIds, sortByIds, sortIds } from '../../src/core/sort.js';

const reference = (xs: readonly string[]) => [...xs].sort(compareIds);

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
    const hex = '0123456789abcdef';
    let seed = 1;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 8;
    };
    const ids: string[] = [];
    for (let i = 0; i < 3000; i++) {
      let d = 'sha256:';
      for (let k = 0; k < 12; k++) d += hex[rand() % 16];
      ids.push(d, `team-${rand() % 3}/svc-${rand() % 5}:1.${rand() % 40}`);
    }
    ids.push('sha256:', 'sha256', 'sha256:0', '\u{1F600}', '\uffff', '');
    expect(sortIds([...ids])).toEqual(reference(ids));
    const order = Int32Array.from(ids.keys());
    sortByIds(order, ids);
    expect(Array.from(order, (i) => ids[i])).toEqual(reference(ids));
  });
});
