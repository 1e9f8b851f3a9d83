import type { ImageGraph } from '../image-graph.js';
import { repositoryOfImage } from '../naming.js';
import type { CleanupPlan } from '../plan-types.js';
import type { ImageEdgeKind } from '../types.js';
import { describeImage } from './describe.js';
import { type ImageFate, imageFates, type TagFate, tagFates } from './fates.js';

/** An image of the graph view. */
export interface ViewImage {
  id: string;
  /** `keep`, `untag` (stays, loses a tag), `delete`; `none` without a plan. */
  fate: ImageFate | 'none';
  /** e.g. `index`, `manifest linux/arm64`, `referrer application/spdx+json`. */
  kind: string;
  tags: Array<{ tag: string; fate: TagFate | 'none' }>;
}

/** The image graph as plain data for the `graph` formats (`--format json` prints it). */
export interface GraphView {
  format: 'regprune.graph-view.v1';
  target: string;
  /** Sorted by id. */
  images: ViewImage[];
  /** `from` needs `to` (parent: built on; child: index lists it; referrer: attached to). */
  edges: Array<{ from: string; to: string; kind: ImageEdgeKind }>;
}

/** Builds the view; with a plan, every image and tag carries its fate. */
export function graphView(graph: ImageGraph, target: string, plan?: CleanupPlan): GraphView {
  const images = plan ? imageFates(plan) : undefined;
  const tags = plan ? tagFates(plan) : undefined;
  const view: GraphView = { format: 'regprune.graph-view.v1', target, images: [], edges: [] };
  for (const id of graph.images()) {
    view.images.push({
      id,
      fate: images ? (images.get(id) ?? 'keep') : 'none',
      kind: describeImage(graph, id),
      tags: graph
        .tagsOf(id)
        .map((tag) => ({ tag, fate: tags ? (tags.get(tag) ?? 'unchanged') : ('none' as const) })),
    });
    for (const kind of ['parent', 'child', 'referrer'] as const) {
      for (const to of graph.targetsOf(id, kind)) view.edges.push({ from: id, to, kind });
    }
  }
  return view;
}

/** A short label for an image: `team/app sha256:4f1c0d9e2b7a` (layouts: just the digest). */
export function imageLabel(id: string): string {
  const repo = repositoryOfImage(id);
  const digest = id.slice(id.indexOf('@') + 1);
  const short = digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]*$/, '$1');
  return repo ? `${repo} ${short}` : short;
}

/** Colours per fate, shared by Mermaid and DOT so both pictures read alike. */
export const STYLE = {
  keep: { fill: '#d4edda', stroke: '#2e7d32', text: '#1b5e20', dashed: false },
  untag: { fill: '#fff3cd', stroke: '#b7791f', text: '#7a4f01', dashed: false },
  delete: { fill: '#f8d7da', stroke: '#c62828', text: '#7f1d1d', dashed: true },
  none: { fill: '#eceff1', stroke: '#546e7a', text: '#263238', dashed: false },
} as const;

/** What each fate is called in legends. */
export const LEGEND: Record<'keep' | 'untag' | 'delete', string> = {
  keep: 'kept',
  untag: 'kept, loses a tag',
  delete: 'deleted',
};

/** Whether a tag stays (`keep`, `unchanged`, `none`) or goes. */
export function tagStays(fate: TagFate | 'none'): boolean {
  return fate !== 'untag' && fate !== 'delete';
}
