import { RegpruneError } from '../../core/errors/regprune-error.js';

/** A repository name or pattern a platform API cannot address (e.g. no owner on ghcr.io). */
export class PlatformInputError extends RegpruneError {
  declare readonly code: 'PLATFORM_INPUT';
  /** The offending name or pattern. */
  readonly value: string;

  constructor(value: string, advice: string) {
    super('PLATFORM_INPUT', value ? `${JSON.stringify(value)}: ${advice}` : advice);
    this.value = value;
  }
}
