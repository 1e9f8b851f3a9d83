import type { LimitFunction } from 'p-limit';
import type { Call } from '../auth/authenticator.js';
import type { PagingContext } from '../paging.js';
import type { Sent } from '../transport/send.js';

/** A request of an endpoint: a path below the registry root (`v2/...`) or an absolute URL. */
export type Endpoint = Omit<Call, 'url' | 'describe'> & { target: string };

/** What the endpoint functions need of their {@link RegistryClient}. */
export interface EndpointContext {
  /** The registry base URL. */
  url: string;
  /** The client's concurrency limit. */
  limit: LimitFunction;
  /** Sends with authentication, retries and redirects. */
  call(endpoint: Endpoint): Promise<Sent>;
  /** Throws the typed error of a status not in `ok` ({@link expectStatus}). */
  expect(
    response: Response,
    ok: number[],
    method: string,
    target: string,
    scope: string,
  ): Promise<void>;
  /** A target's URL for messages. */
  describe(target: string): string;
  /** A target's absolute URL. */
  absolute(target: string): string;
  paging: PagingContext;
}
