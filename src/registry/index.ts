/**
 * regprune/registry — the registry adapter: loads an {@link ImageGraph} from an OCI / Docker v2
 * registry and carries out a {@link CleanupPlan} safely.
 * @packageDocumentation
 */
export type { ImageGraph } from '../core/image-graph.js';
export type { CleanupPlan } from '../core/plan-types.js';
export type { ApplyResult, CleanupTarget, TargetLoadOptions } from '../core/target.js';
export { journalLeftovers } from './apply/journal-open.js';
export { applyPlan, type RegistryApplyOptions } from './apply/orchestrate.js';
export { GC_NOTE } from './apply/result.js';
export type { RegistryCredentials } from './auth/credentials.js';
export { credentialsFromDockerConfig, type DockerConfigOptions } from './auth/docker-config.js';
export { RegistryClient, type RequestOptions } from './client.js';
export * from './errors/index.js';
export { restoreSummary, restoreTable } from './format-restore.js';
export { verifyMarkdown, verifySummary, verifyTable } from './format-verify.js';
export {
  INVENTORY_FORMAT,
  type Inventory,
  type InventoryOptions,
  inventoryOf,
  type PreviousImages,
  previousImageIds,
  type ReadInventoryOptions,
  readInventory,
  writeInventory,
} from './inventory.js';
export {
  JOURNAL_FORMAT,
  type JournalEnd,
  type JournalIntent,
  type JournalKey,
  type JournalRecord,
  type JournalRun,
} from './journal.js';
export { type LoadGraphOptions, type LoadProgress, loadGraph } from './load-graph.js';
export type { Descriptor } from './manifest.js';
export { MANIFEST_ACCEPT } from './media-types.js';
export { GhcrPlatform, type GhcrPlatformOptions } from './platform/ghcr.js';
export { GHCR_HOSTS, type PlatformOption } from './platform/select.js';
export type {
  PlatformRequestOptions,
  PlatformVersion,
  RegistryPlatform,
} from './platform/types.js';
export {
  RESTORE_NOTE,
  type RestoredManifest,
  type RestoredTag,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreResult,
  restore,
} from './restore.js';
export {
  locateStorage,
  type ReadStorageOptions,
  readStoredManifests,
  type StoredManifests,
} from './storage/read-storage.js';
export { type RegistryTargetOptions, registryTarget } from './target.js';
export type {
  FetchedManifest,
  ListLimits,
  RegistryClientOptions,
  RetryOptions,
} from './types.js';
export {
  type VerifyOptions,
  type VerifyProblem,
  type VerifyProblemKind,
  type VerifyReport,
  verifyRegistry,
} from './verify.js';
