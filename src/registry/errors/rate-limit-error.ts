import { RegistryResponseError } from './registry-response-error.js';

/**
 * A platform API's rate limit would make regprune wait longer than it may
 * (`maxRateLimitWait`), or kept refusing after the retries. Nothing more was sent. `retryable`:
 * the same request succeeds once the limit resets.
 */
export class RateLimitError extends RegistryResponseError {
  declare readonly code: 'RATE_LIMITED';
  /** When the limit resets, if the platform said (ISO 8601). */
  readonly resetAt: string | undefined;

  /** @param status The limiting answer's status: 429, or 403 for GitHub's secondary limits. */
  constructor(url: string, detail: string, resetAt?: string, status = 429) {
    super(
      'RATE_LIMITED',
      `${url}: ${detail}${resetAt ? `; the limit resets at ${resetAt}` : ''}; run again later (work already done is kept), or raise maxRateLimitWait`,
      status,
      true,
    );
    this.resetAt = resetAt;
  }
}
