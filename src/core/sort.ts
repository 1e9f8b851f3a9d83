/**
 * Orders ids by UTF-16 code units, like `Array.prototype.sort()` without a comparator but without
 * its string conversion. Locale-independent, so plans sort the same on every machine.
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
