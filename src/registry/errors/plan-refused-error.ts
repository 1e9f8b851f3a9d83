import { RegpruneError } from '../../core/errors/regprune-error.js';

/** The plan was refused by a safety cap when it was made; it is never applied. */
export class PlanRefusedError extends RegpruneError {
  readonly reason: string;

  constructor(reason: string) {
    super(
      'PLAN_REFUSED',
      `the plan was refused (${reason}); nothing was changed — review the policy, then plan again`,
    );
    this.reason = reason;
  }
}
