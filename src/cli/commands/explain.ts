import { shortDigests } from '../../core/format/text.js';
import type { ImageGraph } from '../../core/image-graph.js';
import { explain } from '../../core/plan.js';
import type { CleanupPlan, TagDecision } from '../../core/plan-types.js';
import { naturalSorted } from '../../core/sort.js';
import type { PlanningOptions } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { makeRequiredPlan } from '../make-plan.js';
import { openTarget } from '../open-target.js';
import { createProgress } from '../progress.js';
import { resolveRef } from '../resolve-ref.js';

/** One explained id. */
export interface Explanation {
  id: string;
  kind: 'tag' | 'image';
  /** The core's one-line answer, e.g. `kept: latest → @sha256:… → @sha256:… (parent)`. */
  explanation: string;
  /** For tags: the policy's (or keep list's) decision. */
  decision?: TagDecision;
  /** For tags: the image it points at. */
  image?: string;
}

function explainAll(
  plan: CleanupPlan,
  graph: ImageGraph,
  ids: Array<{ id: string; kind: 'tag' | 'image' }>,
): Explanation[] {
  return ids.map(({ id, kind }) => {
    const decision = kind === 'tag' ? plan.tagDecisions?.find((d) => d.tag === id) : undefined;
    return { id, kind, explanation: explain(plan, id, graph), ...(decision ? { decision } : {}) };
  });
}

/** `regprune explain`: why a tag or image is kept, untagged or deleted. */
export async function explainCommand(options: PlanningOptions, io: CliIo): Promise<ExitCode> {
  const ref = options.ref as string;
  const target = await openTarget(options, io);
  const { graph, plan } = await makeRequiredPlan(options, target, io, createProgress(io));
  const resolved = resolveRef(graph, ref);
  const ids: Array<{ id: string; kind: 'tag' | 'image' }> = [];
  if (resolved.kind === 'tag') {
    ids.push({ id: resolved.tag, kind: 'tag' });
    const image = graph.tagTarget(resolved.tag);
    if (image) ids.push({ id: image, kind: 'image' });
  } else {
    for (const image of resolved.images) ids.push({ id: image, kind: 'image' });
  }
  const explanations = explainAll(plan, graph, ids);
  if (resolved.kind === 'tag' && explanations[0]) {
    const image = graph.tagTarget(resolved.tag);
    if (image) explanations[0].image = image;
  }
  if (options.format === 'json') {
    io.stdout(`${JSON.stringify({ ref, target: target.description, explanations }, null, 2)}\n`);
    return EXIT.ok;
  }
  const lines: string[] = [];
  for (const e of explanations) {
    const tags = e.kind === 'image' ? naturalSorted(graph.tagsOf(e.id)) : [];
    const head =
      e.kind === 'tag'
        ? `tag ${e.id} → ${e.image ?? '?'}`
        : `image ${e.id}${tags.length > 0 ? ` (tags ${tags.join(', ')})` : ''}`;
    lines.push(head, `  ${shortDigests(e.explanation)}`);
  }
  io.stdout(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
