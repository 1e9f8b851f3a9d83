/** `regprune apply --drop` ("delete these", e.g. when a pull request closes) on Debian's real docker-registry. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../helpers/cli.js';
import { listTags, manifestStatus, pushImage, tagManifest } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

let reg: RunningRegistry;

beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

describe('regprune apply --drop', () => {
  it('drops the named tags: an image only they held goes, one another tag holds stays', async () => {
    const pr1 = await pushImage(reg, 'team/app', { tag: 'pr-1' });
    const pr2 = await pushImage(reg, 'team/app', { tag: 'pr-2' });
    await tagManifest(reg, 'team/app', 'main', pr2.digest);
    await pushImage(reg, 'other/app', { tag: 'pr-1' });
    const run = await runCliProcess([
      'apply',
      reg.url,
      '--drop',
      'team/app:pr-1',
      '--drop',
      'team/app:pr-2',
      '--yes',
      '--format',
      'json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { plan } = JSON.parse(run.stdout) as {
      plan: { origin: { basis: string; drop: string[] } };
    };
    expect(plan.origin).toMatchObject({ basis: 'drop', drop: ['team/app:pr-1', 'team/app:pr-2'] });
    expect(await listTags(reg, 'team/app')).toEqual(['main']);
    expect(await manifestStatus(reg, 'team/app', pr1.digest)).toBe(404);
    expect(await manifestStatus(reg, 'team/app', pr2.digest)).toBe(200);
    expect(await listTags(reg, 'other/app')).toEqual(['pr-1']);
    await pullsCompletely(reg.host, 'team/app', 'main');
  });

  it('a tag that does not exist is an error naming it, and nothing changes', async () => {
    await pushImage(reg, 'typo/app', { tag: 'pr-7' });
    const run = await runCliProcess(['apply', reg.url, '--drop', 'typo/app:pr-77', '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('"typo/app:pr-77"');
    expect(run.stderr).toContain('a tag to drop that does not exist');
    expect(await listTags(reg, 'typo/app')).toEqual(['pr-7']);
  });

  it('--drop with --keep is a usage error', async () => {
    const run = await runCliProcess(['plan', reg.url, '--drop', 'a/b:c', '--keep', 'a/b:d']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--drop: cannot be combined with --keep');
  });
});
