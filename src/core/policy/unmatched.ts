/**
 * Entries of a policy that match nothing in the graph. A literal tag entry that names no tag is
 * almost always a typo, and a typo in a keep list deletes what was meant to stay, so it is an
 * error; a pattern or a repository glob that matches nothing may be waiting for a tag or a
 * repository to come, so it is a plan warning.
 */
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { PlanWarning } from '../plan-types.js';
import { compareIds } from '../sort.js';
import { exactTagRegex, type Matcher } from './patterns.js';

/** Largest edit distance at which an existing tag is offered as "did you mean". */
const NEAR = 2;
/** How many suggestions a message lists at most. */
const SUGGESTIONS = 3;

/**
 * Optimal string alignment distance (insertions, deletions, substitutions, adjacent
 * transpositions), or `limit + 1` as soon as it must exceed `limit`.
 */
export function editDistance(a: string, b: string, limit = NEAR): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (prev2[j - 2] as number) + 1);
      row.push(d);
      if (d < best) best = d;
    }
    if (best > limit) return limit + 1;
    prev2 = prev;
    prev = row;
  }
  return Math.min(prev[b.length] as number, limit + 1);
}

/** The existing names closest to `name` (edit distance ≤ 2), nearest first, at most three. */
export function nearestNames(name: string, names: Iterable<string>): string[] {
  const found = new Map<string, number>();
  for (const candidate of names) {
    if (found.has(candidate)) continue;
    const d = editDistance(name, candidate);
    if (d <= NEAR) found.set(candidate, d);
  }
  return [...found]
    .sort((x, y) => x[1] - y[1] || compareIds(x[0], y[0]))
    .slice(0, SUGGESTIONS)
    .map(([n]) => n);
}

/** Where an entry sits and what it is for, for messages. */
export interface EntryPlace {
  /** Policy path of the list, e.g. `rules[0].keepTags`. */
  list: string;
  /** What the list's scope is, e.g. `the tags rule 1 selects`. */
  scope: string;
  /** Why a literal naming no tag is refused. Default: the keep lists' reason. */
  why?: string;
}

const KEEP_WHY =
  'A keep entry naming no tag is refused, because a typo there would delete what was meant to stay';

/**
 * Checks one list of tag matchers against what it matched: throws for the first literal that
 * matched nothing, pushes a warning for each pattern that matched nothing.
 *
 * @param names the tag names of the scope, read only when an error needs suggestions.
 */
export function checkTagEntries(
  matchers: readonly Matcher[],
  hits: Uint8Array,
  place: EntryPlace,
  names: () => Iterable<string>,
  warnings: PlanWarning[],
): void {
  matchers.forEach((m, i) => {
    if (hits[i]) return;
    const path = `${place.list}[${i}]`;
    if (m.literal) {
      const near = nearestNames(m.source, names());
      const hint =
        near.length > 0
          ? ` (did you mean ${near.map((n) => JSON.stringify(n)).join(' or ')}?)`
          : '';
      throw new InvalidPolicyError(
        path,
        `${JSON.stringify(m.source)} names no tag among ${place.scope}${hint}. ${place.why ?? KEEP_WHY}. Fix the spelling, or, to allow a tag that may not exist yet, write it as a pattern, e.g. ${exactTagRegex(m.source)}`,
      );
    }
    warnings.push({
      code: 'PATTERN_MATCHES_NOTHING',
      id: path,
      message: `${path} ${JSON.stringify(m.source)} matches no tag among ${place.scope}, so it keeps nothing today; fine for tags still to come, otherwise check the pattern`,
    });
  });
}

/** Warns for each repository glob of a rule that matches no repository of the graph. */
export function checkRepositoryEntries(
  matchers: readonly Matcher[],
  hits: Uint8Array,
  list: string,
  warnings: PlanWarning[],
): void {
  matchers.forEach((m, i) => {
    if (hits[i]) return;
    const path = `${list}[${i}]`;
    warnings.push({
      code: 'REPOSITORY_PATTERN_MATCHES_NOTHING',
      id: path,
      message: `${path} ${JSON.stringify(m.source)} matches no repository of the graph, so this rule covers nothing there; check the spelling (a repository no rule covers is left alone)`,
    });
  });
}
