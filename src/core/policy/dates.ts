import type { ImageGraph } from '../image-graph.js';

/**
 * Docker's first release. Earlier `created` dates are not real build times (reproducible builds
 * stamp 1970 or 1980), so they count as unknown.
 */
export const EARLIEST_CREDIBLE_DATE = Date.UTC(2013, 2, 20);

/** Why an image's date is unknown, or its time in epoch milliseconds. */
export type ImageDate = { ms: number } | { ms: null; why: string };

function ownDate(graph: ImageGraph, image: string): ImageDate {
  const created = graph.imageInfo(image)?.created;
  if (created === undefined) return { ms: null, why: 'has no created date' };
  const ms = Date.parse(created);
  if (Number.isNaN(ms))
    return { ms: null, why: `has an unreadable created date ${JSON.stringify(created)}` };
  if (ms < EARLIEST_CREDIBLE_DATE) {
    return {
      ms: null,
      why: `was created ${created}, before 2013-03-20 (Docker's first release; reproducible builds stamp such dates)`,
    };
  }
  return { ms };
}

/**
 * Creation dates as the policy sees them, memoised. An image without a credible date of its own
 * that lists children (an index) takes the newest credible date among them, because registries
 * record build dates in platform manifests' configs, not in indexes.
 */
export class DateBook {
  readonly #graph: ImageGraph;
  readonly #memo = new Map<string, ImageDate>();

  constructor(graph: ImageGraph) {
    this.#graph = graph;
  }

  /** The image's date (see the class comment for indexes). */
  dateOf(image: string): ImageDate {
    const known = this.#memo.get(image);
    if (known) return known;
    let date = ownDate(this.#graph, image);
    if (date.ms === null) {
      let newest: number | null = null;
      for (const child of this.#graph.targetsOf(image, 'child')) {
        const ms = this.dateOf(child).ms;
        if (ms !== null && (newest === null || ms > newest)) newest = ms;
      }
      if (newest !== null) date = { ms: newest };
    }
    this.#memo.set(image, date);
    return date;
  }
}
