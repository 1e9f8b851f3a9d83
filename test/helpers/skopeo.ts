/** skopeo as an independent client: proves that a tag still pulls completely. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * `skopeo copy --all docker://host/repo:tag oci:DIR:tag`; rejects with skopeo's message when any
 * manifest or blob is missing. `creds` is `user:password` for registries with auth.
 */
export async function pullsCompletely(
  host: string,
  repo: string,
  tag: string,
  creds?: string,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'regprune-pull-'));
  try {
    const args = ['copy', '--all', '--src-tls-verify=false', '--retry-times=0'];
    if (creds) args.push('--src-creds', creds);
    args.push(`docker://${host}/${repo}:${tag}`, `oci:${join(dir, 'layout')}:${tag}`);
    await run('skopeo', args, { timeout: 60_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
