import { defineConfig } from 'tsup';

// One entry per public subpath (package.json `exports`) plus the CLI binary.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    registry: 'src/registry/index.ts',
    layout: 'src/layout/index.ts',
    cli: 'src/cli/main.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: {
    entry: {
      index: 'src/index.ts',
      registry: 'src/registry/index.ts',
      layout: 'src/layout/index.ts',
    },
  },
  clean: true,
  sourcemap: true,
  splitting: true,
  treeshake: true,
});
