import { RegpruneError } from '../../core/errors/regprune-error.js';

const ROOT_HINT =
  "pass the filesystem driver's rootdirectory (the folder that holds docker/registry/v2) or the docker/registry/v2 folder itself";

/**
 * The directory given as a registry's storage root is not one, cannot be read, or holds the
 * storage of another registry than the one being loaded. Nothing was read through it.
 */
export class StorageRootError extends RegpruneError {
  declare readonly code: 'NOT_A_REGISTRY_ROOT';
  /** The directory that was given. */
  readonly dir: string;

  /**
   * @param problem What is wrong with `dir`.
   * @param options.hint What to do instead. Default: pass the storage driver's rootdirectory.
   */
  constructor(dir: string, problem: string, options: { cause?: unknown; hint?: string } = {}) {
    super('NOT_A_REGISTRY_ROOT', `${dir}: ${problem}; ${options.hint ?? ROOT_HINT}`, {
      cause: options.cause,
    });
    this.dir = dir;
  }
}
