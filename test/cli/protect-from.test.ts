/** `--protect-from FILE` (images in use, e.g. kubectl output) on Debian's real docker-registry. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../helpers/cli.js';
import { listTags, manifestStatus, pushImage } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';
import { useTempDir } from '../helpers/temp-dir.js';

let reg: RunningRegistry;
const work = useTempDir('regprune-protect-from-');

beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

describe('--protect-from FILE', () => {
  it('apply keeps the images pods run (by tag and by digest) and their tags; other hosts and unknown images are warnings', async () => {
    const running = await pushImage(reg, 'inuse/app', { tag: 'v1', salt: 'v1' });
    const byDigest = await pushImage(reg, 'inuse/app', { tag: 'v2', salt: 'v2' });
    const unused = await pushImage(reg, 'inuse/app', { tag: 'v3', salt: 'v3' });
    await pushImage(reg, 'inuse/app', { tag: 'latest', salt: 'latest' });
    // What `kubectl get pods -A -o jsonpath='{..image} {..imageID}'` prints: space separated.
    const file = join(work(), 'in-use.txt');
    await writeFile(
      file,
      `${reg.host}/inuse/app:v1 docker.io/library/nginx:1.25 nginx:1.25 ${reg.host}/inuse/app:v1 docker-pullable://${reg.host}/inuse/app@${byDigest.digest}\n`,
    );
    const run = await runCliProcess([
      'apply',
      reg.url,
      '--keep',
      'inuse/app:latest',
      '--repo',
      'inuse/app',
      '--protect-from',
      file,
      '--yes',
      '--format',
      'json',
    ]);
    expect(run.code).toBe(0);
    const { plan } = JSON.parse(run.stdout) as {
      plan: {
        warnings: Array<{ code: string; id: string; message: string }>;
        tagDecisions: Array<{ tag: string; reason: string }>;
      };
    };
    expect(plan.warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'PROTECTED_IMAGE_OTHER_REGISTRY docker.io',
      'PROTECTED_IMAGE_NOT_FOUND nginx:1.25',
    ]);
    expect(plan.tagDecisions.find((d) => d.tag === 'inuse/app:v1')?.reason).toBe(
      `protected (its image inuse/app@${running.digest} is in use, per ${file})`,
    );
    expect(await listTags(reg, 'inuse/app')).toEqual(['latest', 'v1', 'v2']);
    expect(await manifestStatus(reg, 'inuse/app', unused.digest)).toBe(404);
    await pullsCompletely(reg.host, 'inuse/app', 'v1');
    await pullsCompletely(reg.host, 'inuse/app', 'v2');
  });

  it('works with a policy too (plan), whose protect.images references are scoped to this host', async () => {
    const running = await pushImage(reg, 'inpolicy/app', { tag: 'old', salt: 'old' });
    await pushImage(reg, 'inpolicy/app', { tag: 'latest', salt: 'latest' });
    const policy = join(work(), 'policy.yaml');
    // protect.images is scoped to this registry's host as well: the other host's reference is ignored.
    await writeFile(
      policy,
      'rules:\n  - keepTags: [latest]\nprotect:\n  images: ["other.example/inpolicy/app:old"]\n',
    );
    const file = join(work(), 'policy-in-use.txt');
    await writeFile(file, `inpolicy/app@${running.digest}\n`);
    const run = await runCliProcess([
      'plan',
      reg.url,
      '--policy',
      policy,
      '--repo',
      'inpolicy/app',
      '--protect-from',
      file,
      '--format',
      'json',
    ]);
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as {
      delete: unknown[];
      keptTags: string[];
      warnings: Array<{ code: string; id: string }>;
    };
    expect(plan.warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'PROTECTED_IMAGE_OTHER_REGISTRY other.example',
    ]);
    expect(plan.delete).toEqual([]);
    expect(plan.keptTags).toEqual(['inpolicy/app:latest', 'inpolicy/app:old']);
    expect(await manifestStatus(reg, 'inpolicy/app', running.digest)).toBe(200);
  });

  it('a missing file is an error naming it and the option; with --plan it is a usage error', async () => {
    const missing = await runCliProcess([
      'plan',
      reg.url,
      '--keep',
      'inuse/app:latest',
      '--protect-from',
      join(work(), 'nope.txt'),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.txt.*--protect-from/);
    const saved = await runCliProcess([
      'apply',
      reg.url,
      '--plan',
      'plan.json',
      '--protect-from',
      'x.txt',
    ]);
    expect(saved.code).toBe(2);
    expect(saved.stderr).toContain('--protect-from: applies when planning');
  });
});
