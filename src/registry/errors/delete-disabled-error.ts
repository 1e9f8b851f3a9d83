import { RegpruneError } from '../../core/errors/regprune-error.js';

/** The registry refuses deletes (405 UNSUPPORTED). Thrown before anything was changed. */
export class DeleteDisabledError extends RegpruneError {
  /** The registry URL. */
  readonly registry: string;

  constructor(registry: string) {
    super(
      'DELETE_DISABLED',
      `${registry} has deletes disabled (405 UNSUPPORTED); nothing was changed. Enable them in the registry config with \`storage: {delete: {enabled: true}}\` (storage.delete.enabled: true) or the environment variable REGISTRY_STORAGE_DELETE_ENABLED=true, restart the registry, and apply the plan again`,
    );
    this.registry = registry;
  }
}
