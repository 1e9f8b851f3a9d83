/**
 * regprune — plan and perform safe cleanup of container images.
 *
 * This entry point is the pure core: no I/O, no network, no file system. Adapters live in
 * `regprune/registry` and `regprune/layout`.
 * @packageDocumentation
 */
export * from './core/index.js';
