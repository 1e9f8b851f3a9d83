import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/errors.js';
import { repoMatchers } from '../../src/cli/repo-selection.js';
import {
  ImageGraph,
  InvalidGlobError,
  InvalidPolicyError,
  selectTags,
  validatePolicy,
} from '../../src/index.js';
import { loadGraph, RegistryClient } from '../../src/registry/index.js';

// One repository-glob engine for `--repo`, `loadGraph({ repositories })` and policy rules.

function repoUsage(glob: string): UsageError {
  try {
    parseCommandLine(['plan', '127.0.0.1:5000', '--keep', 'team/a:latest', '--repo', glob]);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`--repo ${glob} was accepted`);
}

function policyProblem(glob: string): string {
  try {
    validatePolicy({ rules: [{ repositories: [glob], keepNewest: 1 }] });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPolicyError);
    return (error as Error).message;
  }
  throw new Error(`policy repositories ${glob} was accepted`);
}

/** Whether a policy rule scoped to `glob` selects the repository `name` (keeps its tag by rule 1). */
function policySelects(glob: string, name: string): boolean {
  const graph = new ImageGraph();
  const image = `${name}@sha256:${'a'.repeat(64)}`;
  graph.addImage(image);
  graph.setTag(`${name}:t`, image);
  const [decision] = selectTags(
    graph,
    validatePolicy({ rules: [{ repositories: [glob], keepTags: ['*'] }] }),
  );
  return decision?.rule === 1;
}

describe('repository globs: one engine', () => {
  it("--repo 'team/[ab]' is a usage error naming the glob, not a selection of nothing", () => {
    const error = repoUsage('team/[ab]');
    expect(error.argument).toBe('--repo');
    expect(error.message).toContain('"team/[ab]"');
    expect(error.message).toMatch(/repository glob/);
  });

  it("--repo 'team/a**b' is refused with the policy's own words", () => {
    const cli = repoUsage('team/a**b');
    expect(cli.argument).toBe('--repo');
    const policy = policyProblem('team/a**b');
    expect(policy).toContain('"**" must be a whole path segment');
    expect(cli.message).toContain('"**" must be a whole path segment (as in "team/**")');
  });

  it('loadGraph refuses a bad glob with InvalidGlobError before any request', async () => {
    // Port 9 (discard) on loopback: any request would fail with a network error instead.
    const client = new RegistryClient({ url: 'http://127.0.0.1:9' });
    await expect(loadGraph(client, { repositories: ['team/[ab]'] })).rejects.toBeInstanceOf(
      InvalidGlobError,
    );
    await expect(loadGraph(client, { repositories: ['team/a**b'] })).rejects.toThrow(
      /"\*\*" must be a whole path segment/,
    );
  });

  it.each([
    ['team/*', 'team/a', true],
    ['team/*', 'team/a/b', false],
    ['team/*', 'team', false],
    ['team/**', 'team/a', true],
    ['team/**', 'team/a/b', true],
    ['team/**', 'team', false],
    ['**/app', 'app', true],
    ['**/app', 'x/y/app', true],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['**', 'anything/at/all', true],
    ['team/a?', 'team/ab', true],
    ['team/a?', 'team/a/', false],
    ['a.b', 'axb', false],
    ['team/app', 'team/app', true],
  ])('%s on %s is %s for --repo and for a policy alike', (glob, name, expected) => {
    expect(repoMatchers([glob])(name)).toBe(expected);
    expect(policySelects(glob, name)).toBe(expected);
  });

  it('--repo and a policy agree on every glob and name (property)', () => {
    const segment = fc.stringMatching(/^[ab*?.]{1,3}$/);
    const glob = fc
      .array(fc.oneof(segment, fc.constant('**')), { minLength: 1, maxLength: 4 })
      .map((s) => s.join('/'));
    const name = fc
      .array(fc.stringMatching(/^[ab.]{1,3}$/), { minLength: 1, maxLength: 4 })
      .map((s) => s.join('/'));
    fc.assert(
      fc.property(glob, name, (g, n) => {
        let cliError: string | undefined;
        try {
          parseCommandLine(['plan', '127.0.0.1:5000', '--keep', `${n}:t`, '--repo', g]);
        } catch (error) {
          cliError = (error as Error).message;
        }
        let policyError: InvalidPolicyError | undefined;
        try {
          validatePolicy({ rules: [{ repositories: [g], keepNewest: 1 }] });
        } catch (error) {
          policyError = error as InvalidPolicyError;
        }
        if (policyError !== undefined) {
          expect(cliError).toContain(policyError.problem);
          return;
        }
        const selects = policySelects(g, n);
        // Accepted by both; the CLI refuses only a --keep tag its --repo does not select.
        expect(cliError === undefined).toBe(selects);
        expect(repoMatchers([g])(n)).toBe(selects);
      }),
      { numRuns: 300 },
    );
  });
});
