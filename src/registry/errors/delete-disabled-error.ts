import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * The registry refuses deletes (405). Thrown before anything was changed. The message says what to
 * do on that registry: distribution's `storage.delete.enabled`, GHCR's Packages API token, Docker
 * Hub's delete permission, or that the host does not accept OCI deletes.
 */
export class DeleteDisabledError extends RegpruneError {
  declare readonly code: 'DELETE_DISABLED';
  /** The registry URL. */
  readonly registry: string;

  /** @param advice What to do on this registry; default: distribution's `storage.delete.enabled`. */
  constructor(registry: string, advice?: string) {
    super(
      'DELETE_DISABLED',
      advice
        ? `${registry} refuses manifest deletes (405); nothing was changed. ${advice}`
        : `${registry} has deletes disabled (405 UNSUPPORTED); nothing was changed. Enable them in the registry config with \`storage: {delete: {enabled: true}}\` (storage.delete.enabled: true) or the environment variable REGISTRY_STORAGE_DELETE_ENABLED=true, restart the registry, and apply the plan again`,
    );
    this.registry = registry;
  }
}
