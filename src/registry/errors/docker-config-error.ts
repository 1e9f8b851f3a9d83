import { RegpruneError } from '../../core/errors/regprune-error.js';

/** Docker's config.json or a credential helper could not be read. Never holds credentials. */
export class DockerConfigError extends RegpruneError {
  declare readonly code: 'DOCKER_CONFIG';
  readonly path: string;

  constructor(path: string, problem: string) {
    super('DOCKER_CONFIG', `${path}: ${problem}; fix the file or pass credentials explicitly`);
    this.path = path;
  }
}
