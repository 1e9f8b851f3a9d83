import { RegpruneError } from './regprune-error.js';

/**
 * A repository glob (`loadGraph`'s `repositories`, the CLI's `--repo`) breaks the glob grammar:
 * a character no repository name holds (`team/[ab]`), or `**` inside a segment (`team/a**b`).
 * Policies report the same problem as an {@link InvalidPolicyError} naming the rule's field.
 */
export class InvalidGlobError extends RegpruneError {
  declare readonly code: 'INVALID_GLOB';
  /** The glob as given. */
  readonly glob: string;
  /** What is wrong, in the words a policy error uses too. */
  readonly problem: string;

  constructor(glob: string, problem: string) {
    super(
      'INVALID_GLOB',
      `repository glob ${JSON.stringify(glob)}: ${problem}; globs use *, ? and ** (a whole segment) only`,
    );
    this.glob = glob;
    this.problem = problem;
  }
}
