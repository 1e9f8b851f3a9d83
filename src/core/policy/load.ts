import { parse, YAMLParseError } from 'yaml';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { RetentionPolicy } from './types.js';
import { validatePolicy } from './validate.js';

/**
 * Parses a policy from JSON or YAML text (JSON is YAML, so one parser reads both) and validates it.
 * Duplicate keys are errors, as are unknown keys and every problem {@link validatePolicy} finds.
 *
 * @throws {InvalidPolicyError} with path `policy` when the text does not parse (the message gives
 *   the line and column), or naming the offending field otherwise.
 * @example
 * ```ts
 * const policy = loadPolicy(`
 * rules:
 *   - keepTags: [latest, "v*"]
 *   - keepNewest: 10
 *     groupBy: '^(.*)-\\d+$'
 * untagged: { keepYoungerThan: 7d }
 * `);
 * ```
 */
export function loadPolicy(text: string): RetentionPolicy {
  let value: unknown;
  try {
    value = parse(text, { uniqueKeys: true, prettyErrors: true, logLevel: 'error' });
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const where = error.linePos?.[0];
      const place = where ? ` at line ${where.line}, column ${where.col}` : '';
      const first = error.message.split('\n')[0] ?? error.message;
      throw new InvalidPolicyError('policy', `not valid YAML or JSON${place}: ${first}`, {
        cause: error,
      });
    }
    throw error;
  }
  if (value === null || value === undefined) {
    throw new InvalidPolicyError('policy', 'is empty; a policy needs at least `rules`');
  }
  return validatePolicy(value);
}
