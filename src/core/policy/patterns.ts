/**
 * Patterns of the policy language, compiled to predicates. Tag patterns match the bare tag name
 * (`v1.2` of `app/api:v1.2`); repository globs match the repository name.
 */

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

const REGEX_LITERAL = /^\/(.+)\/([a-z]*)$/s;
const ALLOWED_FLAGS = /^[imsu]*$/;
const TAG_GLOB = /^[A-Za-z0-9_.*?-]+$/;
const REPOSITORY_GLOB = /^[a-z0-9._/*?-]*$/;

function escapeRegex(c: string): string {
  return c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles a `/regex/flags` string (flags among `imsu`), or returns a problem text. Regexes are
 * searches: anchor them with `^…$` to match whole names.
 */
export function compileRegexLiteral(text: string): RegExp | { problem: string } {
  const match = REGEX_LITERAL.exec(text);
  if (!match) return { problem: `must look like /regex/flags, got ${JSON.stringify(text)}` };
  return compileRegex(match[1] as string, match[2] as string);
}

/** Compiles a regex source, or returns a problem text naming the regex and why it fails. */
export function compileRegex(source: string, flags = ''): RegExp | { problem: string } {
  if (!ALLOWED_FLAGS.test(flags)) {
    return { problem: `regex flags may only be i, m, s, u, got ${JSON.stringify(flags)}` };
  }
  try {
    return new RegExp(source, flags);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { problem: `invalid regex ${JSON.stringify(source)}: ${why}` };
  }
}

/**
 * Compiles a tag pattern: `/regex/flags`, or a glob where `*` matches any run of characters and
 * `?` one character, matched against the whole bare tag name.
 */
export function compileTagPattern(text: string): Matcher | { problem: string } {
  if (text.length === 0) return { problem: 'must be a non-empty pattern' };
  if (text.startsWith('/')) {
    const regex = compileRegexLiteral(text);
    if (!(regex instanceof RegExp)) return regex;
    return { source: text, test: (value) => regex.test(value) };
  }
  if (!TAG_GLOB.test(text)) {
    const hint = text.includes(':')
      ? '; tag patterns match the bare tag name, so scope repositories with `repositories`'
      : '';
    return {
      problem: `must be a tag glob (letters, digits, _ . - with * and ?) or a /regex/, got ${JSON.stringify(text)}${hint}`,
    };
  }
  if (!/[*?]/.test(text)) return { source: text, test: (value) => value === text, literal: true };
  let re = '';
  for (const c of text) re += c === '*' ? '.*' : c === '?' ? '.' : escapeRegex(c);
  const regex = new RegExp(`^${re}$`);
  return { source: text, test: (value) => regex.test(value) };
}

/** A `/regex/` matching exactly `name`: how to keep a tag that may not exist yet. */
export function exactTagRegex(name: string): string {
  return `/^${escapeRegex(name)}$/`;
}

/**
 * Compiles a repository glob: `*` and `?` stay within one path segment, `**` (a whole segment)
 * spans any number of segments, so `team/**` matches `team/a` and `team/a/b`, and `**` alone
 * matches every repository.
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
