import { RegpruneError } from '../../core/errors/regprune-error.js';

/** A repository name, tag or digest (from the registry or the caller) breaks the distribution grammar. */
export class InvalidReferenceError extends RegpruneError {
  declare readonly code: 'INVALID_REFERENCE';
  readonly kind: 'repository' | 'tag' | 'digest' | 'url';
  readonly value: string;

  constructor(kind: 'repository' | 'tag' | 'digest' | 'url', value: string, where: string) {
    super(
      'INVALID_REFERENCE',
      `${where}: ${JSON.stringify(value.slice(0, 300))} is not a valid ${kind} name per the OCI distribution grammar; regprune will not use it — fix or remove it in the registry`,
    );
    this.kind = kind;
    this.value = value;
  }
}
