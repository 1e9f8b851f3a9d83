import { AuthError } from '../errors/auth-error.js';
import { authAdvice } from '../platform/advice.js';
import type { Method, Sent, Transport } from '../transport/send.js';
import { type Challenge, parseChallenge } from './challenge.js';
import { basicHeader, type RegistryCredentials } from './credentials.js';
import { TokenCache } from './tokens.js';

/** A request to the registry, before authentication. */
export interface Call {
  method: Method;
  /** Absolute URL (below the registry, or a `Link` or upload location it named). */
  url: string;
  /** The URL for messages (no credentials). */
  describe: string;
  /** Scope the request needs under token auth (`''` for none). */
  scope: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
  /** See {@link SendRequest.read}. */
  read?: number;
  /** See {@link SendRequest.transient}. */
  transient?: readonly number[];
}

/** The registry a {@link Authenticator} signs requests for. */
export interface RegistryIdentity {
  /** Base URL, without a trailing slash. */
  url: string;
  origin: string;
  host: string;
}

/**
 * Authentication for one registry: anonymous, Basic, or Bearer tokens per scope, learned from the
 * registry's `WWW-Authenticate` challenge. Only the registry's own origin may challenge: a 401
 * from a redirect target is an error, never a new challenge, so its realm never sees a token
 * request (nor the credentials that go with one).
 */
export class Authenticator {
  readonly #transport: Transport;
  readonly #registry: RegistryIdentity;
  readonly #credentials: RegistryCredentials | undefined;
  readonly #tokens: TokenCache;
  #challenge: Challenge | undefined;

  constructor(
    transport: Transport,
    registry: RegistryIdentity,
    credentials: RegistryCredentials | undefined,
  ) {
    this.#transport = transport;
    this.#registry = registry;
    this.#credentials = credentials;
    this.#tokens = new TokenCache({
      transport,
      url: registry.url,
      host: registry.host,
      credentials,
    });
  }

  /**
   * One logical request: authentication, retries, redirects; the body is read only when `read`
   * asks for it.
   * @throws {AuthError} when the registry still refuses after a challenge was answered, or a
   *   host other than the registry's answered 401.
   */
  async call(call: Call): Promise<Sent> {
    const sent = await this.#send(call, await this.#authorization(call.scope, call.signal));
    if (sent.response.status !== 401) return sent;
    await this.#refuseForeign(call, sent);
    const challenge = parseChallenge(sent.response.headers.get('www-authenticate'));
    await sent.response.body?.cancel();
    if (!challenge) return sent;
    this.#challenge = challenge;
    if (challenge.scheme === 'basic' && !this.#credentials) {
      throw new AuthError(
        401,
        `${call.method} ${call.describe}`,
        call.scope || undefined,
        'the registry needs credentials (Basic auth) and none were given',
      );
    }
    const authorization =
      challenge.scheme === 'bearer'
        ? `Bearer ${await this.#tokens.renew(challenge, call.scope, call.signal)}`
        : await this.#authorization(call.scope, call.signal);
    const again = await this.#send(call, authorization);
    await this.#refuseForeign(call, again);
    if (again.response.status === 401) {
      await again.response.body?.cancel();
      throw new AuthError(
        401,
        `${call.method} ${call.describe}`,
        call.scope || undefined,
        '',
        authAdvice(this.#registry.host, call.method),
      );
    }
    return again;
  }

  #send(call: Call, authorization: string | undefined): Promise<Sent> {
    return this.#transport.send({
      method: call.method,
      url: call.url,
      describe: call.describe,
      headers: call.headers,
      body: call.body,
      signal: call.signal,
      read: call.read,
      transient: call.transient,
      authorization,
    });
  }

  async #authorization(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = this.#credentials;
      return creds && 'password' in creds ? basicHeader(creds.username, creds.password) : undefined;
    }
    // We know the realm: fetch the token for this scope up front instead of waiting for a 401.
    return `Bearer ${await this.#tokens.current(challenge, scope, signal)}`;
  }

  /** Throws when a 401 came from another origin than the registry's. @throws {AuthError} */
  async #refuseForeign(call: Call, sent: Sent): Promise<void> {
    const { response, from } = sent;
    const { origin, host } = this.#registry;
    if (response.status !== 401 || from.origin === origin) return;
    await response.body?.cancel();
    const redirected = new URL(call.url).origin === origin;
    const via = redirected ? ` (a redirect from ${call.describe} led there)` : '';
    // Path only: a redirect target's query may hold a signed URL's signature.
    throw new AuthError(
      401,
      `${call.method} ${from.origin}${from.pathname}`,
      undefined,
      `that answer came from ${from.host}, not the registry ${host}${via}; regprune takes authentication challenges only from the registry's own origin, so ${from.host} was sent no credentials and the token realm it names no request`,
      `make the registry's redirect targets (its storage or CDN) serve without authentication, or report it to the registry's operator`,
    );
  }
}
