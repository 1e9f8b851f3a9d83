/**
 * A password written into the target (`https://ci:S3cret@host`, `ci:S3cret@host`) is refused, and
 * it never appears in anything regprune prints: usage errors, library errors, JSON output.
 * Nothing here reaches the network: every target with credentials fails while it is parsed, and
 * the one that gets through (credentials from the environment) names an unused 127.0.0.1 port.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RegpruneError } from '../../src/core/errors/regprune-error.js';
import { RegistryClient } from '../../src/registry/index.js';
import { type CliRun, cleanEnv, runCliInProcess, runCliProcess } from '../helpers/cli.js';

const SECRETS = ['S3cret', 'S3cr%65t', 'T0kenOnly', 'p%40ss'];

/** Targets that carry a secret, each invalid in a different way. */
const TARGETS = [
  'https://ci:S3cret@registry.example.com:99999',
  'https://ci:S3cret@registry.example.com',
  'http://ci:S3cret@127.0.0.1:1',
  'https://ci:S3cret@bad_host!:5000',
  'https://ci:S3cret@[::1',
  'https://ci:S3cr%65t@registry.example.com:99999/x',
  'https://T0kenOnly@registry.example.com:99999',
  'https://ci:p%40ss@registry.example.com/?q=1',
  'https://ci:p@ss@registry.example.com:99999',
  'ftp://ci:S3cret@registry.example.com',
  'ci:S3cret@registry.example.com:99999/x',
  'ci:S3cret@127.0.0.1:1',
  'ci:S3cret@host',
  'T0kenOnly@registry.example.com:99999',
];

/** Command lines around `target`: every command, formats, wrong and unknown options. */
function commandLines(target: string): string[][] {
  return [
    ['plan', target, '--keep', 'app:v1'],
    ['plan', target, '--keep', 'app:v1', '--format', 'json'],
    ['plan', target],
    ['plan', target, '--keep', 'not-a-registry-tag'],
    ['plan', target, '--keep', 'app:v1', '--bogus'],
    ['plan', target, '--keep', 'app:v1', '--policy', 'p.json'],
    ['plan', target, '--keep', 'app:v1', '--now', 'yesterday'],
    ['plan', target, '--keep', 'app:v1', '--format', 'yaml'],
    ['plan', 'oci:./nowhere', target, '--keep', 'latest'],
    ['plan', '127.0.0.1:1', '--keep', target],
    ['apply', target, '--keep', 'app:v1', '--yes'],
    ['apply', target, '--keep', 'app:v1', '--yes', '--format', 'json'],
    ['apply', target, '--keep', 'app:v1', '--dry-run'],
    ['explain', target, 'app:v1'],
    ['explain', target, 'app:v1', '--format', 'json'],
    ['explain', target],
    ['explain', '127.0.0.1:1', target],
    ['graph', target],
    ['graph', target, '--format', 'json'],
    ['graph', target, '--format', 'dot', '--keep', 'a:b'],
    ['restore', target, '--journal', 'j.json'],
    ['restore', target, '--journal', 'j.json', '--format', 'json'],
    ['restore', target],
    ['restore', target, '--journal', 'j.json', '--dry-run'],
    ['restore', '127.0.0.1:1', '--journal', 'j.json', target],
    [target],
    ['prune', target],
  ];
}

function noSecret(run: CliRun, line: string[]): void {
  for (const secret of SECRETS) {
    expect(run.stdout, `stdout of ${line.join(' ')}`).not.toContain(secret);
    expect(run.stderr, `stderr of ${line.join(' ')}`).not.toContain(secret);
  }
  expect(run.code, line.join(' ')).not.toBe(0);
  expect(run.stderr, line.join(' ')).toMatch(/^error: /);
}

/** A 127.0.0.1 port nothing listens on. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('secrets in the target never reach the output', () => {
  it('every error path of every command, in process', async () => {
    for (const target of TARGETS) {
      for (const line of commandLines(target)) {
        noSecret(await runCliInProcess(line), line);
      }
    }
  });

  it('a target with credentials is refused as such, not echoed', async () => {
    for (const target of TARGETS.filter((t) => !t.startsWith('ftp:'))) {
      const run = await runCliInProcess(['plan', target, '--keep', 'app:v1']);
      expect(run.code, target).toBe(2);
      expect(run.stderr, target).toMatch(
        /^error: <target>: credentials in the URL are not accepted/,
      );
    }
  });

  it('as a child process, with REGPRUNE_DEBUG (stacks printed)', async () => {
    const env = cleanEnv({ REGPRUNE_DEBUG: '1' });
    for (const line of [
      ['plan', 'https://ci:S3cret@registry.example.com:99999', '--keep', 'app:v1'],
      ['graph', 'ci:S3cret@registry.example.com:99999/x', '--format', 'json'],
      ['restore', 'https://ci:S3cret@registry.example.com', '--journal', 'j.json'],
    ]) {
      noSecret(await runCliProcess(line, { env }), line);
    }
  });

  it('credentials from the environment and an unreachable 127.0.0.1 port: not echoed', async () => {
    const port = await unusedPort();
    const env = cleanEnv({ REGPRUNE_USERNAME: 'ci', REGPRUNE_PASSWORD: 'S3cret' });
    for (const line of [
      ['plan', `http://127.0.0.1:${port}`, '--keep', 'app:v1', '--format', 'json'],
      ['apply', `127.0.0.1:${port}`, '--keep', 'app:v1', '--yes'],
      ['restore', `127.0.0.1:${port}`, '--journal', 'missing-journal.json'],
    ]) {
      noSecret(await runCliInProcess(line, { env }), line);
    }
  });

  it('library errors: RegistryClient and every RegpruneError redact userinfo', () => {
    for (const url of TARGETS) {
      let message = '';
      try {
        new RegistryClient({ url });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, url).not.toBe('');
      for (const secret of SECRETS) expect(message, url).not.toContain(secret);
    }
    const error = new RegpruneError(
      'X',
      'redirected to https://ci:S3cret@other.example/v2/ and to "ci:S3cret@host:5000/x"',
    );
    expect(error.message).toBe(
      'redirected to https://***@other.example/v2/ and to "***@host:5000/x"',
    );
  });

  it('redaction leaves image references alone', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const text = `app:v1@${digest} team/app@${digest} "app:v1@${digest}" 127.0.0.1:5000/app:v1`;
    expect(new RegpruneError('X', text).message).toBe(text);
  });
});
