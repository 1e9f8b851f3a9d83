import { RegpruneError } from '../../core/errors/regprune-error.js';

/** Content fetched from the registry does not hash to the digest asked for or announced. */
export class DigestMismatchError extends RegpruneError {
  declare readonly code: 'DIGEST_MISMATCH';
  readonly repository: string;
  readonly expected: string;
  readonly actual: string;

  constructor(repository: string, reference: string, expected: string, actual: string) {
    super(
      'DIGEST_MISMATCH',
      `${repository}@${reference}: expected ${expected}, but the content hashes to ${actual}; the registry or a proxy altered it — do not apply plans made from this registry until it is fixed`,
    );
    this.repository = repository;
    this.expected = expected;
    this.actual = actual;
  }
}
