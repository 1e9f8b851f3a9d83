/**
 * The narrow interface between the registry adapter and a hosting platform's own API (GitHub
 * Packages for ghcr.io). The OCI Distribution API cannot list untagged manifests, and some hosted
 * registries refuse its DELETE; a platform API lists every manifest with its timestamps and
 * deletes and restores them. The registry adapter still reads and verifies every manifest through
 * the OCI API: a platform only lists, deletes and restores.
 */

/** One manifest as a platform lists it. */
export interface PlatformVersion {
  /** The platform's id of the version (GitHub: the package version id), as text. */
  id: string;
  /** The manifest digest, `sha256:…`. */
  digest: string;
  /** Tags the platform lists on it (bare names). */
  tags: string[];
  /** When it was pushed (ISO 8601), if the platform says. */
  createdAt?: string;
  /** When it last changed (ISO 8601), if the platform says. */
  updatedAt?: string;
}

/** Options of every platform request. */
export interface PlatformRequestOptions {
  signal?: AbortSignal;
}

/**
 * What a registry adapter consults on a hosted registry. Implemented by {@link GhcrPlatform};
 * a script may pass its own to `RegistryClient` (`platform` option).
 */
export interface RegistryPlatform {
  /** Short name for messages and plans, e.g. `ghcr`. */
  readonly name: string;
  /** Base URL of the platform API (for messages and dry runs). */
  readonly apiUrl: string;
  /**
   * Repositories (`owner/package`) matching `patterns` (names or globs whose first segment, the
   * owner, is literal). Used instead of the OCI catalog, which hosted registries do not serve.
   */
  listRepositories(
    patterns: readonly string[],
    options?: PlatformRequestOptions,
  ): Promise<string[]>;
  /** Every manifest of `repository`, tagged or not, with its tags and timestamps. */
  listVersions(repository: string, options?: PlatformRequestOptions): Promise<PlatformVersion[]>;
  /**
   * Deletes the manifest `digest` of `repository` (and, as the platform does, every tag on it).
   * `missing` when the platform lists no such manifest.
   * @throws {DeleteRefusedError} when the platform refuses this one manifest for a reason that
   *   holds for it alone (GitHub: a public version with over 5,000 downloads): reported as skipped.
   */
  deleteVersion(
    repository: string,
    digest: string,
    options?: PlatformRequestOptions,
  ): Promise<'deleted' | 'missing'>;
  /**
   * Undoes a {@link deleteVersion} where the platform keeps deleted manifests (GitHub: 30 days).
   * `missing` when the platform has no deleted manifest of that digest.
   */
  restoreVersion?(
    repository: string,
    digest: string,
    options?: PlatformRequestOptions,
  ): Promise<'restored' | 'missing'>;
  /**
   * Checks, without changing anything, that deletes in `repository` may work (the token's scopes).
   * @throws {AuthError} naming the missing scope.
   */
  probeDelete(repository: string, options?: PlatformRequestOptions): Promise<void>;
  /** The request {@link deleteVersion} sends for `digest`, for dry runs (`DELETE https://…`). */
  describeDelete(repository: string, digest: string): string;
  /** What to do when the registry answers an OCI DELETE with 405. */
  readonly deleteAdvice: string;
}
