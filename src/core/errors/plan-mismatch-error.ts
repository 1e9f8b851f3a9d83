import { RegpruneError } from './regprune-error.js';

/** A plan does not fit the graph it is applied to (stale plan, or a plan of another graph). */
export class PlanMismatchError extends RegpruneError {
  declare readonly code: 'PLAN_MISMATCH';
  /** The image or tag the plan and the graph disagree on. */
  readonly id: string;

  constructor(id: string, problem: string) {
    super(
      'PLAN_MISMATCH',
      `${JSON.stringify(id)}: ${problem}; make a new plan from the current graph`,
    );
    this.id = id;
  }
}
