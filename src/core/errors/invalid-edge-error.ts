import { RegpruneError } from './regprune-error.js';

/**
 * An edge that the model cannot hold: an image pointing at itself, or an edge that closes a cycle
 * (deletion order would be impossible). A second edge of another kind between the same pair is
 * legal OCI content and no error.
 */
export class InvalidEdgeError extends RegpruneError {
  declare readonly code: 'SELF_EDGE' | 'CYCLE';
  /** The ids involved; for a cycle, the whole cycle in edge order. */
  readonly ids: readonly string[];

  constructor(code: 'SELF_EDGE' | 'CYCLE', ids: readonly string[], message: string) {
    super(code, message);
    this.ids = ids;
  }
}
