/**
 * The unit project promises tests that run on any OS in seconds. This keeps that promise checkable:
 * every file the unit list names exists, and no unit test reaches for the real registry, skopeo,
 * umoci, openssl or a child process (directly or through the helpers that start them).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UNIT_TESTS } from '../vitest.config.js';
import { ROOT } from './helpers/cli.js';

const FOLDER_GLOB = '/**/*.test.ts';

/** The helpers that start or call outside programs (docker-registry, skopeo, umoci, openssl). */
const OUTSIDE_PROGRAMS = [
  'helpers/registry-server.js',
  'helpers/password-registry.js',
  'helpers/token-server.js',
  'helpers/fault-proxy.js',
  'helpers/push.js',
  'helpers/skopeo.js',
  'helpers/layout-tools.js',
  'helpers/registry-state.js',
  'helpers/fixtures.js',
  'helpers/fake-github-packages.js',
  'helpers/tls.js',
  'node:child_process',
  'runCliProcess',
];

function unitFiles(): string[] {
  return UNIT_TESTS.flatMap((entry) => {
    if (!entry.endsWith(FOLDER_GLOB)) return [entry];
    const folder = entry.slice(0, -FOLDER_GLOB.length);
    return readdirSync(join(ROOT, folder), { recursive: true })
      .map(String)
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => `${folder}/${name}`);
  });
}

describe('the unit and integration test projects', () => {
  it('name unit test files that exist, as folders or exact paths', () => {
    for (const entry of UNIT_TESTS) {
      expect(
        entry.includes('*') ? entry.endsWith(FOLDER_GLOB) : entry.endsWith('.test.ts'),
        entry,
      ).toBe(true);
      const path = entry.includes('*') ? entry.slice(0, -FOLDER_GLOB.length) : entry;
      expect(
        statSync(join(ROOT, path), { throwIfNoEntry: false }),
        `${path} is missing`,
      ).toBeDefined();
    }
    expect(unitFiles().length).toBeGreaterThan(10);
  });

  it('keep outside programs out of the unit tests', () => {
    // This file names them all, so it does not read itself.
    for (const file of unitFiles().filter((f) => f !== 'test/project-split.test.ts')) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const used = OUTSIDE_PROGRAMS.filter((name) => text.includes(name));
      expect(used, `${file} belongs in the integration project`).toEqual([]);
    }
  });
});
