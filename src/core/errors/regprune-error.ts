import { redactCredentials } from './redact.js';

/**
 * Base class of every error regprune throws on purpose. `code` is stable and meant for programs;
 * `message` names the offending thing and says what to do about it. Credentials written into a URL
 * in the message (`https://user:password@host`) are replaced by `***`.
 */
export class RegpruneError extends Error {
  /** A stable machine-readable code, e.g. `UNKNOWN_IMAGE`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(redactCredentials(message), options);
    this.name = new.target.name;
    this.code = code;
  }
}
