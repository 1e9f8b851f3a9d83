import type { PushTarget } from './push.js';
import { type RunningRegistry, startRegistry } from './registry-server.js';

/** The `Authorization` value of HTTP Basic auth (tests also check it never leaks into output). */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A real registry behind htpasswd with one user, and a push target that logs in as that user. */
export async function startPasswordRegistry(
  user: string,
  password: string,
): Promise<{ registry: RunningRegistry; target: PushTarget }> {
  const registry = await startRegistry({ auth: 'htpasswd', users: { [user]: password } });
  const header = basicAuth(user, password);
  return { registry, target: { url: registry.url, headers: () => ({ authorization: header }) } };
}
