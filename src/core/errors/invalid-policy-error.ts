import { RegpruneError } from './regprune-error.js';

/**
 * A retention policy (or the options it is planned with) is malformed: an unknown key, a wrong
 * type, a bad pattern, regex or duration, a `groupBy` without a capture group, a missing `now` for
 * a policy that counts time, or (when planning against a graph) a literal `keepTags`, `tags` or
 * `protect.tags` entry that names no tag in its scope, e.g. `rules[0].keepTags[0]`.
 * `path` names the field, e.g. `rules[1].keepNewest`; the message says what is wrong and what
 * was found.
 */
export class InvalidPolicyError extends RegpruneError {
  declare readonly code: 'INVALID_POLICY';
  /** Where in the policy the problem is, e.g. `rules[1].keepNewest`; `policy` for the whole text. */
  readonly path: string;
  /** What is wrong, without the path. */
  readonly problem: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super('INVALID_POLICY', `${path}: ${problem}`, options);
    this.path = path;
    this.problem = problem;
  }
}
