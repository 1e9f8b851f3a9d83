/**
 * Starts Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 for tests: free port, fresh
 * temporary data directory, a config written per DESIGN.md. Never skips: a missing binary is an
 * error that says how to install it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Path of Debian's registry binary. */
export const REGISTRY_BINARY = '/usr/bin/docker-registry';

/** Token-auth settings for {@link startRegistry} (see test/helpers/token-server.ts). */
export interface TokenAuthConfig {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file with the certificate that signs tokens. */
  rootCertBundle: string;
}

export interface StartRegistryOptions {
  /** `htpasswd`: Basic auth with `users`; `token`: Bearer tokens per `token`. Default: none. */
  auth?: 'htpasswd' | 'token';
  /** Users for `htpasswd` (bcrypt entries are made with the `htpasswd` CLI). */
  users?: Record<string, string>;
  token?: TokenAuthConfig;
  /** `storage.delete.enabled`. Default `true`. */
  deleteEnabled?: boolean;
  /** Reuse an existing data directory (e.g. to restart after garbage collection). */
  dataDir?: string;
  /** Listen on this port (e.g. to restart a crashed registry where its clients expect it). Default: a free one. */
  port?: number;
  /** Serve HTTPS with this certificate and key (PEM files); the URL becomes `https://127.0.0.1:PORT`. */
  tls?: { certificate: string; key: string };
}

export interface RunningRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  dataDir: string;
  configPath: string;
  /**
   * Stops the server (SIGTERM, or `SIGKILL` to crash it) and (unless `keepData`) removes its
   * temporary directory.
   */
  stop(options?: { keepData?: boolean; signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function assertBinary(): void {
  if (!existsSync(REGISTRY_BINARY)) {
    throw new Error(
      `${REGISTRY_BINARY} is missing; the registry tests need it. Install with: sudo apt-get update && sudo apt-get install -y docker-registry skopeo umoci apache2-utils`,
    );
  }
}

async function htpasswdFile(dir: string, users: Record<string, string>): Promise<string> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    const { stdout } = await run('htpasswd', ['-Bbn', user, password]);
    lines.push(stdout.trim());
  }
  const path = join(dir, 'htpasswd');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

function configText(options: {
  dataDir: string;
  port: number;
  deleteEnabled: boolean;
  auth?: string;
  tls?: { certificate: string; key: string };
}): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(options.dataDir)}`,
    '  delete:',
    `    enabled: ${options.deleteEnabled}`,
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: 127.0.0.1:${options.port}`,
  ];
  if (options.tls) {
    lines.push(
      '  tls:',
      `    certificate: ${JSON.stringify(options.tls.certificate)}`,
      `    key: ${JSON.stringify(options.tls.key)}`,
    );
  }
  if (options.auth) lines.push(options.auth);
  return `${lines.join('\n')}\n`;
}

async function waitUp(
  url: string,
  child: ChildProcess,
  stderr: () => string,
  tls: boolean,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    }
    try {
      if (tls) {
        // Listening is enough: the test's own CA is not trusted by this process's fetch.
        await new Promise<void>((resolve, reject) => {
          const socket = connect(Number(new URL(url).port), '127.0.0.1', () => {
            socket.end();
            resolve();
          });
          socket.once('error', reject);
        });
        return;
      }
      const response = await fetch(`${url}/v2/`);
      await response.arrayBuffer();
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`docker-registry did not answer on ${url}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts a registry; always call `stop()` (e.g. in `afterAll`). */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  assertBinary();
  const dir = await mkdtemp(join(tmpdir(), 'regprune-registry-'));
  const dataDir = options.dataDir ?? join(dir, 'data');
  const port = options.port ?? (await freePort());
  let auth: string | undefined;
  if (options.auth === 'htpasswd') {
    const path = await htpasswdFile(dir, options.users ?? { user: 'secret' });
    auth = [
      'auth:',
      '  htpasswd:',
      '    realm: regprune-test',
      `    path: ${JSON.stringify(path)}`,
    ].join('\n');
  } else if (options.auth === 'token') {
    const token = options.token;
    if (!token) throw new Error('startRegistry: auth "token" needs options.token');
    auth = [
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(token.realm)}`,
      `    service: ${JSON.stringify(token.service)}`,
      `    issuer: ${JSON.stringify(token.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(token.rootCertBundle)}`,
    ].join('\n');
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(
    configPath,
    configText({
      dataDir,
      port,
      deleteEnabled: options.deleteEnabled ?? true,
      auth,
      tls: options.tls,
    }),
  );
  const child = spawn(REGISTRY_BINARY, ['serve', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errText = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errText = (errText + chunk.toString()).slice(-4000);
  });
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  try {
    await waitUp(url, child, () => errText, options.tls !== undefined);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    configPath,
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill(stopOptions.signal ?? 'SIGTERM');
        await exited;
      }
      if (!stopOptions.keepData && !options.dataDir)
        await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `docker-registry garbage-collect [--dry-run] [-m] config` (the registry should be stopped)
 * and returns the blob digests it reports as eligible for deletion.
 */
export async function garbageCollect(
  configPath: string,
  options: { dryRun?: boolean; deleteUntagged?: boolean } = {},
): Promise<{ eligible: string[]; output: string }> {
  assertBinary();
  const args = ['garbage-collect'];
  if (options.dryRun) args.push('--dry-run');
  if (options.deleteUntagged) args.push('-m');
  args.push(configPath);
  const { stdout, stderr } = await run(REGISTRY_BINARY, args, { maxBuffer: 64 * 1024 * 1024 });
  const output = stdout + stderr;
  const eligible = [...output.matchAll(/blob eligible for deletion: (sha256:[0-9a-f]{64})/g)].map(
    (m) => m[1] as string,
  );
  return { eligible, output };
}
