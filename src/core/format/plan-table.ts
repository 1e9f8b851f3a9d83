import { deletionReasons, shortDeletionReason } from '../deletion-reasons.js';
import type { ImageGraph } from '../image-graph.js';
import { formatKeepPath } from '../plan.js';
import type { CleanupPlan } from '../plan-types.js';
import { type ReclaimableTotal, reclaimableTotal } from '../reclaimable.js';
import { naturalSorted, untagsInNaturalOrder } from '../sort.js';
import { describeImage } from './describe.js';
import { decisionsWithFates } from './fates.js';
import { formatBytes, listTable, plural, shortDigests, textTable } from './text.js';

/** What the plan formats print about where a plan comes from. */
export interface PlanHeader {
  /** `oci:/dir` or a registry URL. */
  target: string;
  /** `policy FILE (now …)` or `keep a, b`. */
  basis: string;
}

/** `5.2 KiB (11 blobs, 6 deleted manifests)`, or `1.4 KiB in 11 blobs` when no manifest is counted. */
export function reclaimableWords(total: ReclaimableTotal): string {
  if (total.manifests === 0) return `${formatBytes(total.bytes)} in ${plural(total.blobs, 'blob')}`;
  return `${formatBytes(total.bytes)} (${plural(total.blobs, 'blob')}, ${plural(total.manifests, 'deleted manifest')})`;
}

/** One line summing the plan up; with the graph, the reclaimable bytes include the deleted manifests. */
export function summaryLine(plan: CleanupPlan, graph?: ImageGraph): string {
  const s = plan.summary;
  return [
    `${plural(s.images, 'image')}, ${plural(s.tags, 'tag')}`,
    `keep ${plural(s.keptImages, 'image')}`,
    `delete ${plural(s.deletedImages, 'image')} (${plural(s.deletedTags, 'tag')} ${s.deletedTags === 1 ? 'goes' : 'go'} with ${s.deletedImages === 1 ? 'it' : 'them'})`,
    `untag ${plural(s.untaggedTags, 'tag')}`,
    `reclaimable ${reclaimableWords(reclaimableTotal(plan, graph))}`,
  ].join(' · ');
}

/**
 * The plan for a terminal: summary, refusal, warnings, untag list, delete list (in order, with
 * waves), kept images with their reasons, and every tag's decision. Digests are shortened to 12
 * hex digits (`explain` accepts such prefixes); `--format json` has them whole.
 */
export function planTable(plan: CleanupPlan, header: PlanHeader, graph?: ImageGraph): string {
  const out: string[] = [];
  out.push(`Plan for ${header.target} — ${header.basis}`);
  out.push(summaryLine(plan, graph));
  if (plan.refused) {
    out.push('', `REFUSED by a safety cap: ${plan.refused.reason}`, 'Nothing will be applied.');
  }
  if (plan.warnings.length > 0) {
    out.push('', `Warnings (${plan.warnings.length})`);
    out.push(
      textTable(
        ['CODE', 'ID', 'MESSAGE'],
        plan.warnings.map((w) => [w.code, w.id, w.message]),
      ),
    );
  }
  out.push('', `Untag (${plural(plan.untag.length, 'tag')} removed; their images stay)`);
  out.push(
    listTable(
      ['TAG', 'IMAGE'],
      untagsInNaturalOrder(plan.untag).map((op) => [op.tag, op.image]),
    ),
  );
  const dangling = plan.danglingTags ?? [];
  if (dangling.length > 0) {
    out.push(
      '',
      `Dangling tags (${plural(dangling.length, 'tag')} listed, pointing at nothing; apply removes them)`,
    );
    for (const tag of dangling) out.push(`  ${tag}`);
  }
  out.push('', `Delete (${plural(plan.delete.length, 'image')}, in this order, wave by wave)`);
  // WHY needs the graph (which index, which subject); without it every deletion is "not reached".
  const why = graph ? deletionReasons(plan, graph) : undefined;
  out.push(
    listTable(
      ['WAVE', 'IMAGE', 'TYPE', 'TAGS', ...(why ? ['WHY'] : [])],
      plan.delete.map((op) => {
        const reason = why?.get(op.image);
        return [
          String(op.wave),
          op.image,
          describeImage(graph, op.image, op.mediaType),
          naturalSorted(op.tags).join(', ') || '-',
          ...(reason ? [shortDeletionReason(reason)] : []),
        ];
      }),
    ),
  );
  out.push('', `Kept images (${plan.keep.length})`);
  out.push(
    listTable(
      ['IMAGE', 'TYPE', 'REASON'],
      plan.keep.map((entry) => [
        entry.image,
        describeImage(graph, entry.image),
        formatKeepPath(entry),
      ]),
    ),
  );
  const decisions = decisionsWithFates(plan);
  if (decisions.length > 0) {
    out.push('', `Tag decisions (${decisions.length})`);
    out.push(
      textTable(
        ['TAG', 'FATE', 'WHY'],
        decisions.map((d) => [d.tag, d.fate, d.reason]),
      ),
    );
  }
  const total = reclaimableTotal(plan, graph);
  out.push(
    '',
    total.manifests === 0
      ? `Reclaimable: ${formatBytes(total.bytes)} (${total.bytes} bytes)`
      : `Reclaimable: ${formatBytes(total.bytes)} (${total.bytes} bytes) in ${total.files} files: ${total.blobBytes} bytes in ${plural(total.blobs, 'config and layer blob')}, ${total.manifestBytes} bytes in ${plural(total.manifests, 'deleted manifest')}`,
  );
  return `${shortDigests(out.join('\n'))}\n`;
}
