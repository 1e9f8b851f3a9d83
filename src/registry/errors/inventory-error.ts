import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * An inventory (state) file cannot be used: it is unreadable, not an inventory, or was written for
 * another registry. Nothing was loaded or changed because of it.
 */
export class InventoryError extends RegpruneError {
  declare readonly code: 'INVENTORY';
  /** The file. */
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super('INVENTORY', `inventory file ${path}: ${problem}`, options);
    this.path = path;
  }
}
