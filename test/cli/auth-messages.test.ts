/**
 * A refused login says where the credentials came from (never what they are), against Debian's
 * real docker-registry behind htpasswd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCliProcess } from '../helpers/cli.js';
import { startPasswordRegistry } from '../helpers/password-registry.js';
import type { RunningRegistry } from '../helpers/registry-server.js';

const USER = 'ci';
const WRONG = 'not-the-Passw0rd';
let reg: RunningRegistry;

beforeAll(async () => {
  ({ registry: reg } = await startPasswordRegistry(USER, 'the-Passw0rd'));
});
afterAll(async () => {
  await reg?.stop();
});

describe('access refused', () => {
  it('names the credentials source (environment), never the password', async () => {
    const run = await runCliProcess(['plan', reg.url, '--keep', 'a/b:c'], {
      env: cleanEnv({ REGPRUNE_USERNAME: USER, REGPRUNE_PASSWORD: WRONG }),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: access refused \(HTTP 401\)/);
    expect(run.stderr).toContain(
      'The credentials used came from user ci (REGPRUNE_USERNAME) with REGPRUNE_PASSWORD',
    );
    expect(run.stderr + run.stdout).not.toContain(WRONG);
  });

  it('names --password-stdin when that was the source', async () => {
    const run = await runCliProcess(
      ['plan', reg.url, '--keep', 'a/b:c', '--username', USER, '--password-stdin'],
      { input: `${WRONG}\n` },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('came from --username ci with --password-stdin');
    expect(run.stderr + run.stdout).not.toContain(WRONG);
  });

  it('without credentials says none were given and how to give them', async () => {
    const run = await runCliProcess(['plan', reg.url, '--keep', 'a/b:c']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'No credentials were given: pass --username with --password-stdin',
    );
  });
});
