import { RegpruneError } from '../../core/errors/regprune-error.js';

/** The value handed in as a plan is not a `regprune.plan.v1` plan. */
export class InvalidPlanError extends RegpruneError {
  constructor(problem: string) {
    super(
      'INVALID_PLAN',
      `not a regprune plan: ${problem}; pass the output of planCleanup() (or \`regprune plan --format json\`) unchanged`,
    );
  }
}
