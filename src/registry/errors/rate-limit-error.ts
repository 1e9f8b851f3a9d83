import { RegpruneError } from '../../core/errors/regprune-error.js';

/**
 * A platform API's rate limit would make regprune wait longer than it may
 * (`maxRateLimitWait`), or kept refusing after the retries. Nothing more was sent.
 */
export class RateLimitError extends RegpruneError {
  /** When the limit resets, if the platform said (ISO 8601). */
  readonly resetAt: string | undefined;

  constructor(url: string, detail: string, resetAt?: string) {
    super(
      'RATE_LIMITED',
      `${url}: ${detail}${resetAt ? `; the limit resets at ${resetAt}` : ''}; run again later (work already done is kept), or raise maxRateLimitWait`,
    );
    this.resetAt = resetAt;
  }
}
