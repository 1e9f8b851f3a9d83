import { AuthError } from '../errors/auth-error.js';
import { InsecureCredentialsError } from '../errors/insecure-credentials-error.js';
import { parseJsonObject } from '../http-errors.js';
import { TOKEN_LIMIT } from '../transport/limits.js';
import type { Transport } from '../transport/send.js';
import type { Challenge } from './challenge.js';
import {
  assertSafeForCredentials,
  basicHeader,
  isLoopback,
  type RegistryCredentials,
} from './credentials.js';

interface Token {
  value: string;
  expires: number;
}

/** The registry a token service serves. */
export interface TokenContext {
  transport: Transport;
  /** Registry base URL (a relative realm is resolved against it). */
  url: string;
  host: string;
  credentials: RegistryCredentials | undefined;
}

/**
 * Bearer tokens per scope from the realm of the registry's last challenge: one request per scope
 * at a time (concurrent callers share it), reused until 5 s before they expire, dropped when the
 * request fails.
 */
export class TokenCache {
  readonly #context: TokenContext;
  readonly #tokens = new Map<string, Promise<Token>>();

  constructor(context: TokenContext) {
    this.#context = context;
  }

  /** A valid cached token for `scope`, or a new one. */
  async current(challenge: Challenge, scope: string, signal?: AbortSignal): Promise<string> {
    const cached = this.#tokens.get(scope);
    if (cached) {
      const value = await cached.catch(() => undefined);
      if (value && value.expires > Date.now() + 5_000) return value.value;
      this.#tokens.delete(scope);
    }
    return (await this.#get(challenge, scope, signal)).value;
  }

  /**
   * A new token after the registry refused the one sent: for the challenge's scope when it names
   * one (it may be wider than ours, e.g. pull,push for a PUT), cached under both.
   */
  async renew(challenge: Challenge, scope: string, signal?: AbortSignal): Promise<string> {
    const wanted = challenge.params.scope ?? scope;
    this.#tokens.delete(scope);
    this.#tokens.delete(wanted);
    const token = this.#get(challenge, wanted, signal);
    if (scope) this.#tokens.set(scope, token);
    return (await token).value;
  }

  #get(challenge: Challenge, scope: string, signal?: AbortSignal): Promise<Token> {
    const cached = this.#tokens.get(scope);
    if (cached) return cached;
    const promise = this.#fetch(challenge, scope, signal);
    this.#tokens.set(scope, promise);
    promise.catch(() => this.#tokens.delete(scope));
    return promise;
  }

  async #fetch(challenge: Challenge, scope: string, signal?: AbortSignal): Promise<Token> {
    const { transport, url, host, credentials: creds } = this.#context;
    const params = challenge.params;
    if (!params.realm)
      throw new AuthError(401, url, scope || undefined, 'the Bearer challenge names no realm');
    const realm = new URL(params.realm, url);
    if (creds) {
      assertSafeForCredentials(realm);
      // Plain HTTP is tolerated only when registry and token service are both on this machine:
      // an HTTPS registry must not downgrade its credentials to a plain-HTTP realm elsewhere.
      if (realm.protocol === 'http:' && !isLoopback(new URL(url).hostname))
        throw new InsecureCredentialsError(
          `${realm.protocol}//${realm.host}${realm.pathname}`,
          `the token realm is plain HTTP on another host than the registry ${host}`,
        );
    }
    const query = new URLSearchParams();
    if (params.service) query.set('service', params.service);
    if (scope) query.set('scope', scope);
    const safeRealm = `${realm.origin}${realm.pathname}`;
    // The realm is where these credentials are meant to go, whatever its origin; it is never
    // redirected from.
    const common = { signal, credentialOrigin: realm.origin, follow: false, read: TOKEN_LIMIT };
    let sent: Awaited<ReturnType<Transport['send']>>;
    if (creds && 'identityToken' in creds) {
      const form = new URLSearchParams(query);
      form.set('grant_type', 'refresh_token');
      form.set('client_id', 'regprune');
      form.set('refresh_token', creds.identityToken);
      sent = await transport.send({
        method: 'POST',
        url: realm.toString(),
        describe: realm.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new TextEncoder().encode(form.toString()),
        ...common,
      });
    } else {
      for (const [k, v] of query) realm.searchParams.append(k, v);
      sent = await transport.send({
        method: 'GET',
        url: realm.toString(),
        describe: realm.toString(),
        authorization: creds ? basicHeader(creds.username, creds.password) : undefined,
        ...common,
      });
    }
    if (sent.response.status !== 200) {
      await sent.response.body?.cancel();
      throw new AuthError(sent.response.status, `token service ${safeRealm}`, scope || undefined);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      if (!sent.bytes) throw new Error('too large');
      body = parseJsonObject(sent.bytes, 'GET', safeRealm);
    } catch {
      throw new AuthError(
        200,
        `token service ${safeRealm}`,
        scope || undefined,
        `the answer is not a JSON object of at most ${TOKEN_LIMIT} bytes`,
      );
    }
    const value = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof value !== 'string' || value === '')
      throw new AuthError(
        200,
        `token service ${safeRealm}`,
        scope || undefined,
        'the answer holds no token',
      );
    const seconds =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { value, expires: Date.now() + seconds * 1000 };
  }
}
