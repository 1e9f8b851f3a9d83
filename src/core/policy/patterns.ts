/**
 * Patterns of the policy language, compiled to predicates. Tag patterns match the bare tag name
 * (`v1.2` of `app/api:v1.2`); repository globs match the repository name.
 */

import { escapeRegex, type Matcher } from '../oci/repository-glob.js';

// The repository-glob engine is the core's one (`--repo` uses it too); re-exported for the
// policy modules that import it from here.
export { compileRepositoryGlob, type Matcher } from '../oci/repository-glob.js';

const REGEX_LITERAL = /^\/(.+)\/([a-z]*)$/s;
const ALLOWED_FLAGS = /^[imsu]*$/;
const TAG_GLOB = /^[A-Za-z0-9_.*?-]+$/;

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
