import { RegpruneError } from './regprune-error.js';

/** An edge, tag or blob names an image the graph does not hold. */
export class UnknownImageError extends RegpruneError {
  declare readonly code: 'UNKNOWN_IMAGE';
  /** The image ids that are not in the graph. */
  readonly ids: readonly string[];

  constructor(ids: readonly string[], context: string) {
    super(
      'UNKNOWN_IMAGE',
      `${context}: unknown image ${ids.map((id) => JSON.stringify(id)).join(', ')}; add it with addImage() first`,
    );
    this.ids = ids;
  }
}
