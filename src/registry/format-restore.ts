import { listTable, plural, shortDigests } from '../core/format/text.js';
import { imageId } from '../core/naming.js';
import type { RestoreResult } from './restore.js';

/** How many entries have each status, in the order given (`0` counts are left out). */
function counts(statuses: string[], order: readonly string[], words: Record<string, string>) {
  const parts = order
    .map((status) => [statuses.filter((s) => s === status).length, words[status]] as const)
    .filter(([n]) => n > 0)
    .map(([n, word]) => `${n} ${word}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** The one-line summary of a `restore` result: what was pushed again, what was already there, what was left alone. */
export function restoreSummary(result: RestoreResult): string {
  const manifests = counts(
    result.manifests.map((m) => m.status),
    ['restored', 'present'],
    { restored: 're-pushed', present: 'already present' },
  );
  const tags = counts(
    result.tags.map((t) => t.status),
    ['restored', 'present', 'conflict'],
    { restored: 'restored', present: 'already present', conflict: 'left alone (moved since)' },
  );
  return `Restored: ${plural(result.manifests.length, 'manifest')} (${manifests}); ${plural(result.tags.length, 'tag')} (${tags})`;
}

/**
 * A `restore` result for a terminal, as the CLI prints it: every manifest and tag with its
 * status, a summary line and the notes.
 */
export function restoreTable(
  result: RestoreResult,
  header: { target: string; journal: string },
): string {
  const out: string[] = [`Restore of ${header.journal} to ${header.target}`, ''];
  out.push(`Manifests (${result.manifests.length})`);
  out.push(
    listTable(
      ['IMAGE', 'STATUS'],
      result.manifests.map((m) => [imageId(m.repository, m.digest), m.status]),
      '(none in the journal)',
    ),
  );
  out.push('', `Tags (${result.tags.length})`);
  out.push(
    listTable(
      ['TAG', 'DIGEST', 'STATUS', 'NOTE'],
      result.tags.map((t) => [t.tag, t.digest, t.status, t.reason ?? '']),
      '(none in the journal)',
    ),
  );
  out.push('', restoreSummary(result));
  for (const note of result.notes) out.push(`Note: ${note}`);
  return `${shortDigests(out.join('\n'))}\n`;
}
