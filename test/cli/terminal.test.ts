/**
 * The CLI on a real pseudo-terminal of 80 columns (util-linux `script` gives the child a pty for
 * its standard streams), against Debian's real docker-registry: progress is drawn, never wider
 * than the terminal, and an apply that rewrites a referrers fallback index (reported as progress
 * beyond the planned operations) still ends well.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, cleanEnv, ROOT, TSX_LOADER } from '../helpers/cli.js';
import { listTags, pushImage, pushReferrer } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

let reg: RunningRegistry;
const ESC = String.fromCharCode(27);

beforeAll(async () => {
  reg = await startRegistry();
  await pushImage(reg, 'tty/app', { tag: 'keep' });
  for (let i = 0; i < 6; i++) {
    const old = await pushImage(reg, 'tty/app', { tag: `old-${i}` });
    await pushReferrer(reg, 'tty/app', old, {
      artifactType: 'application/spdx+json',
      content: `sbom ${i}`,
    });
  }
});
afterAll(async () => {
  await reg?.stop();
});

/** Runs `regprune ARGS` with its streams on an 80-column pty; resolves to everything it drew. */
function onTerminal(args: string[]): Promise<{ code: number | null; screen: string }> {
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, '--import', TSX_LOADER, CLI_MAIN, ...args]
    .map(quote)
    .join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `stty cols 80 rows 24; ${command}`, '/dev/null'], {
      cwd: ROOT,
      env: cleanEnv({ TERM: 'xterm' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (c: Buffer) => {
      screen += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      screen += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

describe('regprune apply on an 80-column terminal', () => {
  it('draws progress that fits, counts the fallback-index rewrites, and exits 0', async () => {
    const { code, screen } = await onTerminal([
      'apply',
      reg.url,
      '--keep',
      'tty/app:keep',
      '--yes',
    ]);
    expect(screen).not.toMatch(/RangeError|Invalid count value/);
    expect(code, screen).toBe(0);
    // Progress was drawn (carriage return + clear line), and reached its end.
    expect(screen).toContain(`\r${ESC}[K`);
    const progress = [...screen.matchAll(/applying \[[#-]+\] (\d+)\/(\d+)/g)];
    expect(progress.length).toBeGreaterThan(0);
    for (const [, done, total] of progress) expect(Number(done)).toBeLessThanOrEqual(Number(total));
    // Every drawn line fits the 80 columns (escape sequences take no room).
    const visible = screen.replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '');
    for (const line of visible.split(/\r\n|\r|\n/)) {
      if (line.startsWith('applying') || line.startsWith('loading')) {
        expect(line.length, line).toBeLessThanOrEqual(80);
      }
    }
    expect(await listTags(reg, 'tty/app')).toEqual(['keep']);
  });
});
