/**
 * The one repository-glob engine: `--repo`, `loadGraph({ repositories })` and a policy rule's
 * `repositories` all compile globs here, so a glob means the same everywhere and a glob one of them
 * refuses, every one refuses with the same words.
 *
 * Grammar (matched against the whole repository name, one `/`-separated segment at a time):
 * - `*` matches any run of characters within one segment, `?` exactly one character in a segment;
 * - `**` as a whole segment spans segments: zero or more at the start or in the middle
 *   (`**` + `/app` matches `app` and `x/y/app`; `a/**` + `/b` matches `a/b`), one or more at the end
 *   (`team/**` matches `team/a` and `team/a/b`, not `team`), every repository on its own;
 * - every other character is literal and must be one a repository name can hold (lowercase
 *   letters, digits, `.`, `_`, `-`, `/`). Anything else (`[ab]`, `{a,b}`, uppercase) and a `**`
 *   inside a segment (`a**b`) is refused, never taken literally: a glob that cannot match must not
 *   quietly select nothing.
 */

import { InvalidGlobError } from '../errors/invalid-glob-error.js';

/** A compiled pattern, with its source for reasons and error messages. */
export interface Matcher {
  source: string;
  test(value: string): boolean;
  /**
   * A tag pattern with no glob character that is not a `/regex/`: it names one tag, so naming no
   * existing tag is a typo rather than a tag that may come later.
   */
  literal?: boolean;
}

const REPOSITORY_GLOB = /^[a-z0-9._/*?-]*$/;

/** Escapes the characters a regular expression treats specially. */
export function escapeRegex(c: string): string {
  return c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/**
 * Whether `text` is meant as a glob rather than one repository name: it holds a character no
 * repository name can (`*`, `?`, `[`, `]`, `{`, `}`). Such text goes through
 * {@link compileRepositoryGlob}, which refuses the characters the grammar does not define.
 */
export function isRepositoryGlob(text: string): boolean {
  return /[*?[\]{}]/.test(text);
}

/**
 * Compiles a repository glob (grammar in this module's comment), or returns the problem in words
 * that name the glob and say what is allowed.
 */
export function compileRepositoryGlob(text: string): Matcher | { problem: string } {
  if (text.length === 0) return { problem: 'must be a non-empty repository glob' };
  if (!REPOSITORY_GLOB.test(text)) {
    return {
      problem: `must be a repository glob (lowercase letters, digits, . _ - / with *, ** and ?), got ${JSON.stringify(text)}`,
    };
  }
  const segments = text.split('/');
  for (const segment of segments) {
    if (segment.includes('**') && segment !== '**') {
      return {
        problem: `"**" must be a whole path segment (as in "team/**"), got ${JSON.stringify(text)}`,
      };
    }
  }
  let re = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') {
      // `a/**/b` also matches `a/b`; a trailing `**` matches one or more segments below.
      re += last ? (i === 0 ? '.*' : '.+') : '(?:[^/]+/)*';
      return;
    }
    for (const c of segment) re += c === '*' ? '[^/]*' : c === '?' ? '[^/]' : escapeRegex(c);
    if (!last) re += '/';
  });
  const regex = new RegExp(`^${re}$`);
  return { source: text, test: (value) => regex.test(value) };
}

/**
 * A predicate selecting repositories by names and globs: a value without glob characters names
 * one repository exactly; a glob is compiled by {@link compileRepositoryGlob}.
 * @throws {InvalidGlobError} for the first glob the grammar refuses.
 */
export function repositorySelector(patterns: readonly string[]): (name: string) => boolean {
  const tests = patterns.map((pattern): ((name: string) => boolean) => {
    if (!isRepositoryGlob(pattern)) return (name) => name === pattern;
    const compiled = compileRepositoryGlob(pattern);
    if ('problem' in compiled) throw new InvalidGlobError(pattern, compiled.problem);
    return compiled.test;
  });
  return (name) => tests.some((test) => test(name));
}
