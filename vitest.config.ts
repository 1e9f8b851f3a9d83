import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The unit project: pure tests that run on any OS in seconds (no registry, skopeo, umoci, shell
 * scripts or FIFOs). A whole folder is given as a glob; single files are named exactly, so a rename
 * shows up in test/project-split.test.ts. Every other test file is an integration test, so a new
 * file is never left out of `npm test`.
 */
export const UNIT_TESTS = [
  'test/core/**/*.test.ts',
  'test/cli/args.test.ts',
  'test/cli/options-table.test.ts',
  'test/io/atomic-write.test.ts',
  'test/layout/plan-changes.test.ts',
  'test/layout/robust-load.test.ts',
  'test/layout/same-content.test.ts',
  'test/registry/delete-advice.test.ts',
  'test/registry/fakes.test.ts',
  'test/registry/hostile.test.ts',
  'test/registry/requests.test.ts',
  'test/registry/error-families.test.ts',
  'test/registry/retry-policy.test.ts',
  'test/registry/units.test.ts',
  'test/docs-links.test.ts',
  'test/project-split.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './scripts/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT_TESTS } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT_TESTS],
        },
      },
    ],
  },
});
