import { RegpruneError } from '../../core/errors/regprune-error.js';

/** A manifest (or index, or referrers list) is not valid JSON of the expected shape. */
export class MalformedManifestError extends RegpruneError {
  declare readonly code: 'MALFORMED_MANIFEST';
  readonly repository: string;
  readonly digest: string;

  constructor(repository: string, digest: string, problem: string) {
    super(
      'MALFORMED_MANIFEST',
      `${repository}@${digest} is malformed: ${problem}; regprune cannot tell what it needs, so it stops — inspect it (e.g. \`skopeo inspect --raw\`) and fix or delete it by hand`,
    );
    this.repository = repository;
    this.digest = digest;
  }
}
