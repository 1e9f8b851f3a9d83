/**
 * Tag orders for `keepNewest`. Each comparator sorts ascending, so "newest" is the end of the order;
 * every one of them ends in a plain comparison of the names, so the order is total and stable.
 */
import { compareIds, compareNatural } from '../sort.js';

/** A parsed semantic version (`v` prefix allowed; build metadata ignored for precedence). */
interface SemVer {
  core: [bigint, bigint, bigint];
  pre: string[];
}

const NUMERIC = '0|[1-9]\\d*';
const PRE_ID = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(
  `^v?(${NUMERIC})\\.(${NUMERIC})\\.(${NUMERIC})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`,
);

/** Parses `1.2.3`, `v1.2.3-rc.1`, `1.2.3+build.5`; anything else is not semver. */
export function parseSemver(tag: string): SemVer | null {
  const match = SEMVER.exec(tag);
  if (!match) return null;
  return {
    core: [BigInt(match[1] as string), BigInt(match[2] as string), BigInt(match[3] as string)],
    pre: match[4] === undefined ? [] : match[4].split('.'),
  };
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const DIGITS = /^\d+$/;

/** Semver precedence of pre-release identifiers (numeric < alphanumeric; shorter set first). */
function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length; // a release follows its pre-releases
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    const xn = DIGITS.test(x);
    const yn = DIGITS.test(y);
    let c: number;
    if (xn && yn) c = compareBig(BigInt(x), BigInt(y));
    else if (xn !== yn) c = xn ? -1 : 1;
    else c = compareIds(x, y);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Semver precedence of two parsed versions; 0 when equal apart from build metadata. */
export function compareSemver(x: SemVer, y: SemVer): number {
  for (let i = 0; i < 3; i++) {
    const c = compareBig(x.core[i] as bigint, y.core[i] as bigint);
    if (c !== 0) return c;
  }
  return comparePre(x.pre, y.pre);
}

/**
 * Semver order: every tag that is not semver first (oldest), in natural order, then the versions
 * by precedence (pre-releases before their release). Equal versions (`v1.0.0`, `1.0.0`) fall back
 * to the name. Non-versions rank oldest so that `keepNewest` never spends a slot on `latest`.
 */
export function compareSemverTags(a: string, b: string): number {
  return compareSemverKeyed(parseSemver(a), parseSemver(b), a, b);
}

/** {@link compareSemverTags} with the versions parsed beforehand (sorting parses each tag once). */
export function compareSemverKeyed(
  x: SemVer | null,
  y: SemVer | null,
  a: string,
  b: string,
): number {
  if (x && y) return compareSemver(x, y) || compareIds(a, b);
  if (x) return 1;
  if (y) return -1;
  return compareNatural(a, b);
}

// Natural order lives in ../sort.ts so that the formats can share it with `orderBy: 'name'`.
export { compareChunks, compareNatural, naturalChunks } from '../sort.js';
