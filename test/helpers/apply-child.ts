/**
 * Runs `applyPlan` in its own process so a test can kill it mid-run (kill -9) and resume:
 * `node --import tsx test/helpers/apply-child.ts <registry url> <plan.json> <journal> [concurrency]`.
 * Prints the ApplyResult as JSON on stdout when it finishes.
 */
import { readFile } from 'node:fs/promises';
import type { CleanupPlan } from '../../src/index.js';
import { applyPlan, RegistryClient } from '../../src/registry/index.js';

const [url, planFile, journal, concurrency] = process.argv.slice(2);
if (!url || !planFile || !journal) {
  process.stderr.write(
    'usage: apply-child.ts <registry url> <plan.json> <journal> [concurrency]\n',
  );
  process.exit(2);
}
const plan = JSON.parse(await readFile(planFile, 'utf8')) as CleanupPlan;
const client = new RegistryClient({ url, concurrency: Number(concurrency ?? 2) });
const result = await applyPlan(client, plan, { journal });
process.stdout.write(`${JSON.stringify(result)}\n`);
