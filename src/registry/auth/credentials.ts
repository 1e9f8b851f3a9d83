import { InsecureCredentialsError } from '../errors/insecure-credentials-error.js';

/**
 * Credentials for a registry. Username and password work for Basic auth and for the Bearer token
 * flow; an identity token (Docker's `identitytoken`, an OAuth2 refresh token) only for the token
 * flow. They are kept in private fields and never appear in errors, logs or plans.
 */
export type RegistryCredentials =
  | { username: string; password: string }
  | { identityToken: string; username?: string };

/** Whether `hostname` is a loopback address (where plain HTTP may carry credentials). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Throws unless credentials may be sent to `url`: HTTPS, or plain HTTP on loopback.
 * @throws {InsecureCredentialsError}
 */
export function assertSafeForCredentials(url: URL): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return;
  throw new InsecureCredentialsError(`${url.protocol}//${url.host}${url.pathname}`, 'not HTTPS');
}

/** `Basic base64(user:password)`. */
export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
