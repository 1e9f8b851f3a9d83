import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * A platform refused to delete one manifest for a reason that holds for that manifest alone
 * (GitHub: a version of a public package downloaded more than 5,000 times). The apply reports it
 * as skipped with `reason`, keeps going, and keeps everything the manifest needs.
 */
export class DeleteRefusedError extends RegpruneError {
  declare readonly code: 'DELETE_REFUSED';
  /** `repo@sha256:…` */
  readonly image: string;
  /** Why, in the platform's words and what to do. */
  readonly reason: string;

  constructor(image: string, reason: string) {
    super('DELETE_REFUSED', `${image} was not deleted: ${reason}`);
    this.image = image;
    this.reason = reason;
  }
}
