/** umoci and skopeo as independent oracles for OCI layouts (Debian packages `umoci`, `skopeo`). */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `umoci gc --layout DIR`: the layout's own garbage collection. */
export async function umociGc(dir: string): Promise<void> {
  await run('umoci', ['gc', '--layout', dir], { timeout: 30_000 });
}

/** Runs umoci with the given arguments (e.g. `init --layout D`). */
export async function umoci(...args: string[]): Promise<string> {
  return (await run('umoci', args, { timeout: 30_000 })).stdout;
}

/** Runs skopeo with the given arguments. */
export async function skopeo(...args: string[]): Promise<string> {
  return (await run('skopeo', args, { timeout: 30_000 })).stdout;
}

/**
 * `skopeo copy --all oci:DIR:TAG dir:…`: reads every manifest and blob the tag needs (all
 * platforms of an index) and checks their digests; rejects with skopeo's message otherwise.
 */
export async function skopeoReadsTag(dir: string, tag: string): Promise<void> {
  const out = await mkdtemp(join(tmpdir(), 'regprune-read-'));
  try {
    await run(
      'skopeo',
      ['copy', '--all', '--quiet', `oci:${dir}:${tag}`, `dir:${join(out, 'x')}`],
      {
        timeout: 30_000,
      },
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
