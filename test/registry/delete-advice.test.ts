/**
 * 405 and 401 guidance per registry. Docker Hub and "some other hosted registry" cannot be reached
 * from tests: a FAKE fetch answers as Docker's registry API documentation describes (405 to a
 * manifest DELETE; 401 with a Bearer challenge to auth.docker.io), and as a registry without OCI
 * deletes does (405 with no distribution error code). Distribution's own 405 is tested against the
 * real registry in e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AuthError, DeleteDisabledError, RegistryClient } from '../../src/registry/index.js';

/** A fetch that answers every request with `status`, `headers` and `body`. */
function answering(status: number, headers: Record<string, string> = {}, body = ''): typeof fetch {
  return async () => new Response(body === '' ? null : body, { status, headers });
}

describe('405 and 401 guidance per registry (fake fetch, answers from vendor documentation)', () => {
  it('Docker Hub (fake): a 405 to a manifest DELETE names Docker Hub and the delete permission, not storage.delete.enabled', async () => {
    const client = new RegistryClient({
      url: 'https://registry-1.docker.io',
      fetch: answering(
        405,
        { 'content-type': 'application/json' },
        '{"errors":[{"code":"UNSUPPORTED"}]}',
      ),
      platform: 'none',
    });
    const error = await client.probeDelete('me/app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeleteDisabledError);
    const message = (error as Error).message;
    expect(message).toMatch(/Docker Hub/);
    expect(message).toMatch(/Read, Write, Delete/);
    expect(message).not.toMatch(/storage\.delete\.enabled/);
  });

  it('Docker Hub (fake): a 401 to a DELETE says which token permission Docker Hub needs', async () => {
    const client = new RegistryClient({
      url: 'https://registry-1.docker.io',
      fetch: answering(401),
    });
    const error = await client.probeDelete('me/app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(
      /Docker Hub deletes only with a token that has delete access/,
    );
  });

  it('another host (fake) whose 405 carries no distribution code: named, and told it does not accept OCI deletes', async () => {
    const client = new RegistryClient({
      url: 'https://registry.example.com',
      fetch: answering(405),
    });
    const error = await client.probeDelete('team/app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeleteDisabledError);
    expect((error as Error).message).toMatch(
      /registry\.example\.com does not accept OCI deletes .*own API or web interface/,
    );
  });

  it('ghcr.io gets the GitHub Packages API by itself, and its advice names delete:packages', () => {
    const client = new RegistryClient({
      url: 'https://ghcr.io',
      auth: { username: 'me', password: 'ghp_x' },
      fetch: answering(500),
    });
    expect(client.platform?.name).toBe('ghcr');
    expect(client.platform?.apiUrl).toBe('https://api.github.com');
    expect(client.platform?.deleteAdvice).toMatch(/delete:packages/);
    const hub = new RegistryClient({ url: 'https://registry-1.docker.io', fetch: answering(500) });
    expect(hub.platform).toBeUndefined();
  });
});
