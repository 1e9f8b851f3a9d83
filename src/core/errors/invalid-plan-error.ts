import { RegpruneError } from './regprune-error.js';

/**
 * A saved plan (e.g. `regprune plan --format json` read back for `apply --plan`) is not a plan
 * regprune can apply: malformed JSON, a missing or mistyped field, or another format version.
 * `path` names the field, e.g. `delete[3].wave`.
 */
export class InvalidPlanError extends RegpruneError {
  declare readonly code: 'INVALID_PLAN';
  /** Where in the plan the problem is, e.g. `delete[3].wave`; `plan` for the whole document. */
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(
      'INVALID_PLAN',
      `${path}: ${problem}; save the plan again with \`regprune plan … --format json\` (or JSON.stringify of planCleanup's result)`,
      options,
    );
    this.path = path;
  }
}
