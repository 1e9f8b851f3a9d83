import type { ImageGraph } from '../core/image-graph.js';
import { parsePlanFor } from '../core/plan-file.js';
import type { CleanupPlan } from '../core/plan-types.js';
import type { ApplyOptions, ApplyResult, CleanupTarget } from '../core/target.js';
import { journalLeftovers } from './apply/journal-open.js';
import { applyPlan } from './apply/orchestrate.js';
import type { RegistryClient } from './client.js';
import { readInventory, writeInventory } from './inventory.js';
import type { JournalKey } from './journal.js';
import { type LoadGraphOptions, loadGraph } from './load-graph.js';
import { verifyRegistry } from './verify.js';

/** Options of {@link registryTarget}: how to load, plus the files a CLI-like run keeps. */
export interface RegistryTargetOptions extends LoadGraphOptions {
  /**
   * An inventory state file (see `writeInventory`): read before each load, so images an earlier
   * run saw and that lost their tags since are seen too (`previous`), and written right after it.
   * A file recorded for another registry is refused (`InventoryError`). Default: none.
   */
  state?: string;
  /**
   * The undo journal `applyPlan` records each operation in (see `RegistryApplyOptions.journal`).
   * A load also reads it: what an interrupted run left untagged is loaded and planned too.
   */
  journal?: string;
  /** The key of the journal's HMAC chain (see `RegistryApplyOptions.journalKey`). */
  journalKey?: JournalKey;
}

/**
 * A registry as a {@link CleanupTarget}. `loadGraph` loads with `options` (per-call options win),
 * reading and then writing the `state` file when one is given, and seeing what an interrupted run
 * recorded in the `journal` left untagged; `applyPlan` re-checks the plan against the graph of the
 * last load and records in the `journal`; `verify` is {@link verifyRegistry}.
 * @example
 * ```ts
 * const target = registryTarget(new RegistryClient({ url: 'http://127.0.0.1:5000' }), {
 *   repositories: ['team/**'],
 *   journal: 'undo.jsonl',
 * });
 * const plan = planCleanup(await target.loadGraph(), ['team/app:latest']);
 * await target.applyPlan(plan);
 * ```
 */
export function registryTarget(
  client: RegistryClient,
  options: RegistryTargetOptions = {},
): CleanupTarget {
  const { state, journal, journalKey, ...loadOptions } = options;
  let last: ImageGraph | undefined;
  return {
    kind: 'registry',
    description: client.url,
    async loadGraph(callOptions = {}) {
      const previous =
        state === undefined ? undefined : await readInventory(state, { registry: client.host });
      const leftovers =
        journal === undefined
          ? []
          : await journalLeftovers(journal, client.url, { key: journalKey });
      const extraDigests = [...(loadOptions.extraDigests ?? []), ...leftovers];
      // This run's time: the pushed time of images the state file has not seen yet, and theirs
      // in the file.
      const seenAt = loadOptions.seenAt ?? new Date();
      last = await loadGraph(client, {
        ...loadOptions,
        seenAt,
        ...(extraDigests.length > 0 ? { extraDigests } : {}),
        ...(previous ? { previous } : {}),
        ...callOptions,
      });
      // Saved right after loading: what this run saw is what the next run compares against.
      if (state !== undefined) {
        await writeInventory(state, last, {
          registry: client.host,
          now: seenAt,
          ...(previous ? { previous } : {}),
        });
      }
      return last;
    },
    checkPlan: (plan: unknown) => parsePlanFor(plan, client.url),
    applyPlan(plan: CleanupPlan, applyOptions: ApplyOptions = {}): Promise<ApplyResult> {
      return applyPlan(client, plan, {
        ...applyOptions,
        ...(last ? { graph: last } : {}),
        ...(journal !== undefined ? { journal } : {}),
        ...(journal !== undefined && journalKey !== undefined ? { journalKey } : {}),
      });
    },
    verify: (tags) => verifyRegistry(client, { tags }),
  };
}
