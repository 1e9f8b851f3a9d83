import { RegpruneError } from './regprune-error.js';

/**
 * A plan marked `refused` by a safety cap was handed to an adapter. Adapters throw it before they
 * touch anything, so nothing was applied. Shared by `regprune/registry` and `regprune/layout`.
 */
export class PlanRefusedError extends RegpruneError {
  declare readonly code: 'PLAN_REFUSED';
  /** The reason the plan carries, e.g. which cap it exceeded. */
  readonly reason: string;

  constructor(reason: string) {
    super('PLAN_REFUSED', `the plan was refused by a safety cap: ${reason}; nothing was applied`);
    this.reason = reason;
  }
}
