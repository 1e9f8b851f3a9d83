/**
 * Base class of every error regprune throws on purpose. `code` is stable and meant for programs;
 * `message` names the offending thing and says what to do about it.
 */
export class RegpruneError extends Error {
  /** A stable machine-readable code, e.g. `UNKNOWN_IMAGE`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
