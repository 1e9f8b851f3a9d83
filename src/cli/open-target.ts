import { resolve } from 'node:path';
import type { ImageGraph } from '../core/image-graph.js';
import type { CleanupPlan } from '../core/plan-types.js';
import type { ApplyOptions, ApplyResult } from '../core/target.js';
import { loadLayoutGraph } from '../layout/load-graph.js';
import { layoutTarget } from '../layout/target.js';
import { journalLeftovers } from '../registry/apply-journal.js';
import { applyPlan, type RegistryApplyOptions } from '../registry/apply-plan.js';
import { RegistryClient } from '../registry/client.js';
import { readInventory, writeInventory } from '../registry/inventory.js';
import { type LoadProgress, loadGraph } from '../registry/load-graph.js';
import { type VerifyReport, verifyRegistry } from '../registry/verify.js';
import type { CommandOptions } from './args.js';
import { resolveCredentials } from './credentials.js';
import type { CliIo } from './io.js';
import type { TargetSpec } from './target-spec.js';

/** Options of {@link OpenedTarget.apply}: the adapters' own plus the registry's journal. */
export interface CliApplyOptions extends ApplyOptions {
  /** Registry only: the journal file `applyPlan` records each operation in. */
  journal?: string;
}

/** A registry or layout, opened for the CLI: one way to load and one to apply. */
export interface OpenedTarget {
  kind: 'registry' | 'layout';
  /** `http://127.0.0.1:5000` or `oci:/abs/dir`. */
  description: string;
  load(options: {
    dates: boolean;
    onProgress?: (event: LoadProgress) => void;
  }): Promise<ImageGraph>;
  apply(plan: CleanupPlan, options: CliApplyOptions): Promise<ApplyResult>;
  /** Registries: checks that these tags (`repo:tag`) pull completely (`apply --verify`). */
  verify?(tags: readonly string[]): Promise<VerifyReport>;
}

/** `REGPRUNE_JOURNAL_KEY`: the key of the undo journal's HMAC chain (unset or empty: none). */
export function journalKeyOf(io: CliIo): string | undefined {
  return io.env.REGPRUNE_JOURNAL_KEY || undefined;
}

/** A client for a registry target, with the credentials the command line and environment give. */
export async function openRegistryClient(
  options: CommandOptions,
  spec: Extract<TargetSpec, { kind: 'registry' }>,
  io: CliIo,
): Promise<RegistryClient> {
  const auth = await resolveCredentials(options, spec.host, io);
  return new RegistryClient({ url: spec.url, ...(auth ? { auth } : {}) });
}

/** Opens the command line's target (resolving credentials for registries). */
export async function openTarget(options: CommandOptions, io: CliIo): Promise<OpenedTarget> {
  const spec = options.target;
  if (spec.kind === 'layout') {
    const dir = resolve(io.cwd, spec.dir);
    const target = layoutTarget(dir);
    return {
      kind: 'layout',
      description: target.description,
      load: ({ dates }) => loadLayoutGraph(dir, { dates }),
      apply: (plan, applyOptions) => target.applyPlan(plan, applyOptions),
    };
  }
  const client = await openRegistryClient(options, spec, io);
  const repositories = options.repos.length > 0 ? options.repos : undefined;
  let graph: ImageGraph | undefined;
  return {
    kind: 'registry',
    description: client.url,
    async load({ dates, onProgress }) {
      const state = options.state === undefined ? undefined : resolve(io.cwd, options.state);
      const previous = state ? await readInventory(state, { registry: client.host }) : undefined;
      // A re-plan after an interrupted run: what that run left untagged is seen and planned too.
      const journal = options.journal === undefined ? undefined : resolve(io.cwd, options.journal);
      const leftovers = journal
        ? await journalLeftovers(journal, client.url, { key: journalKeyOf(io) })
        : [];
      graph = await loadGraph(client, {
        ...(leftovers.length > 0 ? { extraDigests: leftovers } : {}),
        dates,
        ...(repositories ? { repositories } : {}),
        ...(onProgress ? { onProgress } : {}),
        ...(options.storage !== undefined ? { storage: resolve(io.cwd, options.storage) } : {}),
        ...(previous ? { previous } : {}),
      });
      // Saved right after loading: what this run saw is what the next run compares against.
      if (state) {
        await writeInventory(state, graph, {
          registry: client.host,
          ...(previous ? { previous } : {}),
        });
      }
      return graph;
    },
    apply(plan, { journal, ...rest }) {
      const registryOptions: RegistryApplyOptions = { ...rest, ...(graph ? { graph } : {}) };
      if (journal !== undefined) registryOptions.journal = resolve(io.cwd, journal);
      const key = journalKeyOf(io);
      if (journal !== undefined && key !== undefined) registryOptions.journalKey = key;
      return applyPlan(client, plan, registryOptions);
    },
    verify: (tags) => verifyRegistry(client, { tags }),
  };
}
