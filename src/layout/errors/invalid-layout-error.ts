import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * An OCI image layout is malformed: a file is missing, is not valid JSON, has the wrong shape, or
 * does not match its digest. `file` names the file (relative to the layout directory).
 */
export class InvalidLayoutError extends RegpruneError {
  declare readonly code: 'INVALID_LAYOUT';
  /** The layout directory. */
  readonly dir: string;
  /** The offending file, relative to `dir` (e.g. `index.json`, `blobs/sha256/ab…`). */
  readonly file: string;

  constructor(dir: string, file: string, problem: string, options?: { cause?: unknown }) {
    super(
      'INVALID_LAYOUT',
      `${file} in OCI layout ${dir}: ${problem}; fix or recreate the layout (e.g. with skopeo copy or umoci) before pruning it`,
      options,
    );
    this.dir = dir;
    this.file = file;
  }
}
