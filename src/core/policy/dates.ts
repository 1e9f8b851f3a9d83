import type { ImageGraph } from '../image-graph.js';
import type { AgeSource } from '../plan-types.js';

/**
 * Docker's first release. Earlier dates are not real build or push times (reproducible builds
 * stamp 1970 or 1980; a storage copied without its times may show the epoch), so they count as
 * unknown.
 */
export const EARLIEST_CREDIBLE_DATE = Date.UTC(2013, 2, 20);

/** An image's age time in epoch milliseconds and where it came from, or why it is unknown. */
export type ImageDate = { ms: number; source: AgeSource } | { ms: null; why: string };

type OwnDate = { ms: number } | { ms: null; why: string; missing: boolean };

const NOUN: Record<AgeSource, string> = { created: 'created date', pushed: 'pushed time' };
const VERB: Record<AgeSource, string> = { created: 'created', pushed: 'pushed' };

function ownDate(graph: ImageGraph, image: string, source: AgeSource): OwnDate {
  const text = graph.imageInfo(image)?.[source];
  if (text === undefined) return { ms: null, why: `has no ${NOUN[source]}`, missing: true };
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    return {
      ms: null,
      why: `has an unreadable ${NOUN[source]} ${JSON.stringify(text)}`,
      missing: false,
    };
  if (ms < EARLIEST_CREDIBLE_DATE) {
    return {
      ms: null,
      why: `was ${VERB[source]} ${text}, before 2013-03-20 (Docker's first release; reproducible builds stamp such dates)`,
      missing: false,
    };
  }
  return { ms };
}

/**
 * Image ages as the policy sees them, memoised. Each image's time comes from the policy's age
 * source, else from the other one (recorded in {@link DateBook.fallbacks}). An image without a
 * credible time of its own that lists children (an index) takes the newest credible time among
 * them, because registries record build dates in platform manifests' configs, not in indexes.
 */
export class DateBook {
  readonly #graph: ImageGraph;
  readonly #source: AgeSource;
  readonly #other: AgeSource;
  readonly #memo = new Map<string, ImageDate>();
  readonly #bySource: Record<AgeSource, Map<string, OwnDate>> = {
    created: new Map(),
    pushed: new Map(),
  };
  /** Images whose time came from the other source, with why the policy's source was unknown. */
  readonly fallbacks = new Map<string, string>();

  constructor(graph: ImageGraph, source: AgeSource = 'created') {
    this.#graph = graph;
    this.#source = source;
    this.#other = source === 'created' ? 'pushed' : 'created';
  }

  /** The policy's age source. */
  get source(): AgeSource {
    return this.#source;
  }

  /** The image's time (see the class comment). */
  dateOf(image: string): ImageDate {
    const known = this.#memo.get(image);
    if (known) return known;
    const primary = this.#sourced(image, this.#source);
    let date: ImageDate;
    if (primary.ms !== null) date = { ms: primary.ms, source: this.#source };
    else {
      const other = this.#sourced(image, this.#other);
      if (other.ms !== null) {
        date = { ms: other.ms, source: this.#other };
        this.fallbacks.set(image, primary.why);
      } else {
        const also =
          primary.missing && other.missing
            ? ` and no ${NOUN[this.#other]}`
            : other.missing
              ? `, and has no ${NOUN[this.#other]}`
              : `, and ${other.why}`;
        date = { ms: null, why: `${primary.why}${also}` };
      }
    }
    this.#memo.set(image, date);
    return date;
  }

  /** The time of the other source (epoch ms, or -∞): how equal times are ordered. */
  tiebreak(image: string): number {
    return this.#sourced(image, this.#other).ms ?? Number.NEGATIVE_INFINITY;
  }

  /** Where the image's time came from, when {@link DateBook.dateOf} was asked and found one. */
  sourceRead(image: string): AgeSource | undefined {
    const date = this.#memo.get(image);
    return date && date.ms !== null ? date.source : undefined;
  }

  #sourced(image: string, source: AgeSource): OwnDate {
    const memo = this.#bySource[source];
    const known = memo.get(image);
    if (known) return known;
    let date = ownDate(this.#graph, image, source);
    if (date.ms === null) {
      let newest: number | null = null;
      for (const child of this.#graph.targetsOf(image, 'child')) {
        const ms = this.#sourced(child, source).ms;
        if (ms !== null && (newest === null || ms > newest)) newest = ms;
      }
      if (newest !== null) date = { ms: newest };
    }
    memo.set(image, date);
    return date;
  }
}
