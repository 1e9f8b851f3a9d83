/**
 * Docker credential helpers that misbehave: real `docker-credential-<name>` shell scripts on PATH.
 * A helper is someone else's program; whatever it does, regprune answers with credentials,
 * `undefined` (the helper said "not found") or a DockerConfigError — never a crash or a hang.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialsFromDockerConfig, DockerConfigError } from '../../src/registry/index.js';
import { useTempDir } from '../helpers/temp-dir.js';

const tempDir = useTempDir('regprune-cred-helpers-');

/** A config naming helper `name` for host `h.test`, and an env whose PATH finds `script`. */
async function withHelper(name: string, script: string) {
  const dir = join(tempDir(), name);
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const helper = join(bin, `docker-credential-${name}`);
  await writeFile(helper, `#!/bin/sh\n${script}\n`);
  await chmod(helper, 0o755);
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify({ credHelpers: { 'h.test': name } }));
  return { dir, path, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('credential helpers that misbehave', () => {
  it('a helper that exits without reading stdin never crashes regprune (20 runs)', async () => {
    const answers = await withHelper('noread', `echo '{"Username":"u","Secret":"s3"}'; exit 0`);
    const fails = await withHelper('noreadfail', 'exit 3');
    const host = 'h.test';
    for (let i = 0; i < 20; i += 1) {
      expect(await credentialsFromDockerConfig(host, answers)).toEqual({
        username: 'u',
        password: 's3',
      });
      const error = await credentialsFromDockerConfig(host, fails).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DockerConfigError);
      expect((error as Error).message).toMatch(/docker-credential-noreadfail get failed.*exit 3/);
    }
  });

  it('a helper that ignores SIGTERM is killed after the timeout; the call rejects at once', async () => {
    const helper = await withHelper(
      'stubborn',
      `trap '' TERM\necho $$ > "${tempDir()}/stubborn.pid"\nsleep 30\necho '{"Username":"u","Secret":"late"}'`,
    );
    const started = Date.now();
    const error = await credentialsFromDockerConfig('h.test', {
      ...helper,
      helperTimeout: 2_000,
    }).catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(DockerConfigError);
    expect((error as Error).message).toMatch(
      /docker-credential-stubborn.*no answer within 2000 ms/,
    );
    expect(took).toBeLessThan(10_000);
    const pid = Number((await readFile(join(tempDir(), 'stubborn.pid'), 'utf8')).trim());
    // SIGKILL cannot be ignored; the shell is gone shortly after the timeout.
    const deadline = Date.now() + 3_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  });

  it('a helper that prints megabytes is cut off at the size limit with a DockerConfigError', async () => {
    const helper = await withHelper(
      'chatty',
      // 8 MiB of output, then it would exit 0.
      `head -c 8388608 /dev/zero | tr '\\0' 'x'`,
    );
    const before = process.memoryUsage().rss;
    const error = await credentialsFromDockerConfig('h.test', helper).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerConfigError);
    expect((error as Error).message).toMatch(
      /docker-credential-chatty get for h.test: answered more than 1 MiB/,
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('the messages never hold what the helper printed (it may be a secret)', async () => {
    const helper = await withHelper('leaky', `echo 'Secret-Not-JSON-hunter2'`);
    const error = await credentialsFromDockerConfig('h.test', helper).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerConfigError);
    expect((error as Error).message).toMatch(/not JSON/);
    expect((error as Error).message).not.toContain('hunter2');
  });
});
