/**
 * A registry cleanup as a Node script: load → plan → print → apply, with the library API.
 * It is a DRY RUN unless REGPRUNE_APPLY=1.
 *
 *   REGISTRY_URL=https://registry.example.com \
 *   REGPRUNE_POLICY=examples/policies/keep-last-n-per-branch.yaml \
 *   REGPRUNE_REPOSITORIES='team/**' \
 *   node --import tsx examples/node-script/cleanup.ts
 *
 * Environment:
 * - REGISTRY_URL (required): the registry, e.g. https://registry.example.com or http://127.0.0.1:5000
 * - REGPRUNE_POLICY: a policy file (default: examples/policies/keep-last-n-per-branch.yaml)
 * - REGPRUNE_REPOSITORIES: comma-separated repository names or globs (default: the whole catalog)
 * - REGPRUNE_APPLY=1: really delete (default: dry run, nothing is changed)
 * - REGPRUNE_USERNAME / REGPRUNE_PASSWORD, else Docker's config: credentials
 *
 * Exit codes follow the CLI's: 0 done, 1 error, 3 refused by a safety cap, 4 partly applied.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your project: `from 'regprune'` and `from 'regprune/registry'`.
import { explain, loadPolicy, planCleanup, RegpruneError } from '../../src/index.js';
import {
  applyPlan,
  credentialsFromDockerConfig,
  loadGraph,
  RegistryClient,
  type RegistryCredentials,
} from '../../src/registry/index.js';

const here = dirname(fileURLToPath(import.meta.url));

async function credentials(host: string): Promise<RegistryCredentials | undefined> {
  const { REGPRUNE_USERNAME: username, REGPRUNE_PASSWORD: password } = process.env;
  if (username && password) return { username, password };
  return credentialsFromDockerConfig(host);
}

async function main(): Promise<number> {
  const url = process.env.REGISTRY_URL;
  if (!url) {
    console.error('error: set REGISTRY_URL, e.g. REGISTRY_URL=http://127.0.0.1:5000');
    return 2;
  }
  const policyFile =
    process.env.REGPRUNE_POLICY ?? resolve(here, '../policies/keep-last-n-per-branch.yaml');
  const repositories = process.env.REGPRUNE_REPOSITORIES?.split(',').map((r) => r.trim());
  const dryRun = process.env.REGPRUNE_APPLY !== '1';

  // 1. Load: tags, manifests, indexes, referrers, base images; `dates` for the policy's ages.
  const host = new URL(url).host;
  const auth = await credentials(host);
  const client = new RegistryClient({ url, ...(auth ? { auth } : {}) });
  const graph = await loadGraph(client, { dates: true, ...(repositories ? { repositories } : {}) });

  // 2. Plan: pure, no I/O. The plan is plain JSON; store it to review or diff later.
  const policy = loadPolicy(await readFile(policyFile, 'utf8'));
  const plan = planCleanup(graph, policy, { now: new Date() });

  // 3. Print what would happen, and why.
  console.log(`registry ${client.url}, policy ${policyFile}`);
  console.log(
    `${plan.summary.images} images: keep ${plan.summary.keptImages}, delete ${plan.summary.deletedImages}, untag ${plan.summary.untaggedTags} tags, ${plan.reclaimableBytes} bytes reclaimable`,
  );
  for (const op of plan.untag) console.log(`untag  ${op.tag}: ${explain(plan, op.tag)}`);
  for (const op of plan.delete)
    console.log(`delete ${op.image} (wave ${op.wave}): ${explain(plan, op.image)}`);
  for (const warning of plan.warnings)
    console.log(`warning ${warning.code} ${warning.id}: ${warning.message}`);
  if (plan.refused) {
    console.error(`refused by a safety cap: ${plan.refused.reason}; nothing applied`);
    return 3;
  }

  // 4. Apply (or, by default, only show the requests a real run would send).
  const result = await applyPlan(client, plan, { dryRun, graph });
  for (const outcome of result.outcomes) {
    console.log(
      `${outcome.status.padEnd(7)} ${outcome.action} ${outcome.id}${outcome.reason ? ` — ${outcome.reason}` : ''}`,
    );
  }
  console.log(
    dryRun
      ? `dry run: ${result.totals.planned} operations planned, nothing changed (set REGPRUNE_APPLY=1 to apply)`
      : `applied: ${result.totals.done} done, ${result.totals.skipped} skipped, ${result.totals.failed} failed`,
  );
  for (const note of result.notes) console.log(`note: ${note}`);
  return !dryRun && result.totals.failed + result.totals.skipped > 0 ? 4 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  // Typed errors name the offending thing and say what to do; they never hold credentials.
  console.error(`error: ${error instanceof RegpruneError ? error.message : String(error)}`);
  process.exitCode = 1;
}
