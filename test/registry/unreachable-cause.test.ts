/**
 * "fetch failed" says nothing. A registry that cannot be reached is reported with the underlying
 * cause and what to do about it: a refused connection, TLS spoken to a plain-HTTP server (the real
 * docker-registry), an untrusted certificate (the real docker-registry over HTTPS with a private CA).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/client.js';
import {
  RegistryUnreachableError,
  transportCause,
} from '../../src/registry/errors/registry-unreachable-error.js';
import { runCliProcess } from '../helpers/cli.js';
import { freePort, type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { makeCertificates } from '../helpers/tls.js';

let plain: RunningRegistry;
let tls: RunningRegistry;
const dir = useTempDir('regprune-unreachable-');

beforeAll(async () => {
  plain = await startRegistry();
  tls = await startRegistry({ tls: await makeCertificates(dir()) });
});
afterAll(async () => {
  await Promise.all([plain?.stop(), tls?.stop()]);
});

async function failure(client: RegistryClient): Promise<RegistryUnreachableError> {
  const error = await client.catalog().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RegistryUnreachableError);
  return error as RegistryUnreachableError;
}

describe('RegistryUnreachableError names the cause', () => {
  it('connection refused: ECONNREFUSED, check that the registry runs and the port', async () => {
    const port = await freePort();
    const error = await failure(new RegistryClient({ url: `http://127.0.0.1:${port}`, retry: 0 }));
    expect(error.causeCode).toBe('ECONNREFUSED');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('nothing accepts connections there');
    expect(error.message).not.toContain('fetch failed;');
  });

  it('https:// to a plain-HTTP registry: says to write http://', async () => {
    const error = await failure(
      new RegistryClient({ url: plain.url.replace('http:', 'https:'), retry: 0 }),
    );
    expect(error.message).toContain('as if the server speaks plain HTTP');
    expect(error.message).toContain('http://host:port');
  });

  it('an untrusted certificate: says to give the CA (caFile)', async () => {
    const error = await failure(new RegistryClient({ url: tls.url, retry: 0 }));
    expect(error.message).toContain('certificate is not trusted');
    expect(error.message).toContain('caFile');
  });

  it('an unknown host name (synthetic cause chain, no DNS traffic): check the spelling', () => {
    const inner = Object.assign(new Error('getaddrinfo ENOTFOUND registry.invalid'), {
      code: 'ENOTFOUND',
    });
    const found = transportCause(new TypeError('fetch failed', { cause: inner }));
    expect(found).toMatchObject({ code: 'ENOTFOUND', detail: inner.message });
    expect(found.advice).toContain('does not resolve');
  });

  it('the CLI prints the cause, not advice about options it does not have', async () => {
    const port = await freePort();
    const run = await runCliProcess(['plan', `http://127.0.0.1:${port}`, '--keep', 'a:b']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stderr).toContain('nothing accepts connections there');
    expect(run.stderr).not.toMatch(/raise the retry/);
  });
});
