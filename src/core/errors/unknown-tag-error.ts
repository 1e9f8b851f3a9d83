import { RegpruneError } from './regprune-error.js';

/**
 * A tag named as "keep" is not a tag of the graph. Thrown rather than ignored, because a typo in a
 * keep list must never widen a deletion.
 */
export class UnknownTagError extends RegpruneError {
  declare readonly code: 'UNKNOWN_TAG';
  /** The tag names that the graph does not hold. */
  readonly tags: readonly string[];

  constructor(tags: readonly string[], known: number, role: 'keep' | 'drop' = 'keep') {
    super(
      'UNKNOWN_TAG',
      `unknown tag ${tags.map((t) => JSON.stringify(t)).join(', ')} (the graph has ${known} tag${known === 1 ? '' : 's'}); check the spelling — ${role === 'keep' ? 'a tag to keep that does not exist would delete more than meant' : 'a tag to drop that does not exist is most likely a typo, and the tag meant would stay'}`,
    );
    this.tags = tags;
  }
}
