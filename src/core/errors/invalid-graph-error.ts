import { RegpruneError } from './regprune-error.js';

/** A serialised graph (`ImageGraph.fromJSON`) or an id is malformed. `path` names the field. */
export class InvalidGraphError extends RegpruneError {
  declare readonly code: 'INVALID_GRAPH';
  /** Where in the input the problem is, e.g. `images[3].id`. */
  readonly path: string;

  constructor(path: string, problem: string) {
    super('INVALID_GRAPH', `${path}: ${problem}`);
    this.path = path;
  }
}
