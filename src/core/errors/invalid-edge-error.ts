import { RegpruneError } from './regprune-error.js';

/**
 * An edge that the model cannot hold: an image pointing at itself, an edge that closes a cycle
 * (deletion order would be impossible), or a second edge of another kind between the same pair.
 */
export class InvalidEdgeError extends RegpruneError {
  /** The ids involved; for a cycle, the whole cycle in edge order. */
  readonly ids: readonly string[];

  constructor(
    code: 'SELF_EDGE' | 'CYCLE' | 'EDGE_CONFLICT',
    ids: readonly string[],
    message: string,
  ) {
    super(code, message);
    this.ids = ids;
  }
}
