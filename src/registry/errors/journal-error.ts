import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * An undo journal cannot be used: it is unreadable, damaged, or belongs to another plan or
 * registry. Nothing was changed because of it.
 */
export class JournalError extends RegpruneError {
  declare readonly code: 'JOURNAL';
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super('JOURNAL', `undo journal ${path}: ${problem}`, options);
    this.path = path;
  }
}
