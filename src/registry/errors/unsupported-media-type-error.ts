import { RegpruneError } from '../../core/errors/regprune-error.js';

/** A manifest has a media type regprune cannot read (e.g. Docker schema 1). */
export class UnsupportedMediaTypeError extends RegpruneError {
  declare readonly code: 'UNSUPPORTED_MEDIA_TYPE';
  readonly repository: string;
  readonly digest: string;
  readonly mediaType: string;

  constructor(repository: string, digest: string, mediaType: string) {
    super(
      'UNSUPPORTED_MEDIA_TYPE',
      `${repository}@${digest} has media type ${JSON.stringify(mediaType)}, which regprune cannot read (it reads OCI manifests and indexes and Docker schema 2 manifests and lists); re-push it in a supported format or leave its repository out with \`repositories\``,
    );
    this.repository = repository;
    this.digest = digest;
    this.mediaType = mediaType;
  }
}
