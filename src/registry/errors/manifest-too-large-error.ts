import { RegpruneError } from '../../core/errors/regprune-error.js';

/** A manifest (or config) is larger than regprune accepts (4 MiB for manifests). */
export class ManifestTooLargeError extends RegpruneError {
  declare readonly code: 'MANIFEST_TOO_LARGE';
  readonly repository: string;
  readonly reference: string;
  readonly limit: number;

  constructor(repository: string, reference: string, limit: number) {
    super(
      'MANIFEST_TOO_LARGE',
      `${repository}@${reference} is larger than ${limit} bytes; regprune refuses it (registries cap manifests at 4 MiB) — inspect and delete it by hand`,
    );
    this.repository = repository;
    this.reference = reference;
    this.limit = limit;
  }
}
