import { RegpruneError } from '../../core/errors/regprune-error.js';

/** Content a journaled manifest needs that the registry no longer has. */
export interface MissingContent {
  repository: string;
  /** The manifest that cannot be restored. */
  manifest: string;
  /** The missing blob (config or layer) or child manifest. */
  missing: string;
  kind: 'blob' | 'manifest';
}

/**
 * `restore` cannot re-push a manifest because a blob (or a child manifest) it needs is gone —
 * usually because the registry's garbage collection ran after the cleanup. Nothing was restored.
 */
export class RestoreBlobMissingError extends RegpruneError {
  declare readonly code: 'RESTORE_BLOB_MISSING';
  readonly missing: MissingContent[];

  constructor(missing: MissingContent[]) {
    const first = missing[0] as MissingContent;
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    super(
      'RESTORE_BLOB_MISSING',
      `cannot restore ${first.repository}@${first.manifest}: its ${first.kind} ${first.missing} is no longer in the registry${more}. The registry's garbage collection has removed what the deleted manifests needed, so the journal can no longer undo the cleanup; push those images again from their source. Nothing was restored.`,
    );
    this.missing = missing;
  }
}
