/** What earlier runs left unfinished, settled against the registry before a run. */
import { classifyTag } from '../../core/attachments.js';
import type { ImageGraph } from '../../core/image-graph.js';
import {
  digestOfImage,
  imageId,
  repositoryOfImage,
  repositoryOfTag,
  tagName,
} from '../../core/naming.js';
import type { CleanupPlan } from '../../core/plan-types.js';
import type { RegistryClient } from '../client.js';
import { removeDanglingTags } from '../dangling-tags.js';
import { JournalError } from '../errors/journal-error.js';
import type { JournalIntent } from '../journal.js';
import { removeOwnPlaceholder } from '../untag.js';
import type { ApplyJournal } from './journal-open.js';
import { oldIndexInUse } from './journal-rewrites.js';

/**
 * Settles the intents earlier runs of other plans left without an end or ended as `failed`,
 * against the registry as it is now, one after another, and writes each one's end (so that no
 * later run settles it again): an interrupted delete whose manifest is
 * gone is `done` (its tags left listed pointing at nothing are removed, as after a DELETE without
 * a clean 202); one whose manifest is still there is `failed` (not done: this plan decides
 * afresh). An interrupted untag is finished where the tag points at nothing or at regprune's own
 * placeholder for it. An interrupted fallback-index rewrite deletes its old index only for a
 * fallback tag of a repository of this plan, with the new index on the tag, and where no current
 * tag or image needs the old one ({@link oldIndexInUse}); otherwise the old index stays (an
 * untagged index, nothing lost). Each settled intent is noted; one that cannot be settled now (a
 * registry error) keeps no end, is noted, and is tried again by the next run.
 */
export async function settleEarlierRuns(
  client: RegistryClient,
  journal: ApplyJournal,
  plan: CleanupPlan,
  graph: ImageGraph,
  signal: AbortSignal | undefined,
): Promise<void> {
  const repositories = new Set([
    ...plan.untag.map((op) => repositoryOfTag(op.tag)),
    ...plan.delete.map((op) => repositoryOfImage(op.image)),
  ]);
  const listed = new Map<string, Set<string>>();
  const tagsOf = async (repo: string) => {
    let tags = listed.get(repo);
    if (!tags) {
      tags = new Set(await client.listTags(repo, { signal }));
      listed.set(repo, tags);
    }
    return tags;
  };
  for (const intent of journal.earlier) {
    const what = `undo journal record ${intent.seq} (${intent.action} ${intent.id}), left unfinished or failed by an earlier run of another plan`;
    try {
      const [status, how] = await settleOne(
        client,
        intent,
        plan,
        graph,
        repositories,
        tagsOf,
        signal,
      );
      await journal.writer.append({ type: 'end', seq: intent.seq, status });
      journal.notes.push(`${what}: ${how}`);
    } catch (error) {
      if (error instanceof JournalError || signal?.aborted) throw error;
      journal.notes.push(
        `${what}: could not be settled now (${(error as Error).message}); the next run tries again`,
      );
    }
  }
}

export async function settleOne(
  client: RegistryClient,
  intent: JournalIntent,
  plan: CleanupPlan,
  graph: ImageGraph,
  repositories: ReadonlySet<string>,
  tagsOf: (repo: string) => Promise<Set<string>>,
  signal: AbortSignal | undefined,
): Promise<['done' | 'failed', string]> {
  const repo = intent.repository;
  if (intent.action === 'delete') {
    if ((await client.resolve(repo, intent.digest, { signal })) !== undefined)
      return [
        'failed',
        'the image is still there: recorded as not done (this plan decides afresh)',
      ];
    const cleanup = await removeDanglingTags(client, repo, intent.tags, await tagsOf(repo), signal);
    const removed =
      cleanup.removed.length > 0
        ? `; its tags ${cleanup.removed.join(', ')} were left listed pointing at nothing: removed them`
        : '';
    return ['done', `the image is gone: recorded as done${removed}`];
  }
  const name = tagName(intent.id);
  if (repositoryOfTag(intent.id) !== repo)
    return ['failed', 'its tag is not in its repository: ignored, nothing sent'];
  if (intent.action === 'untag') {
    const now = await client.resolve(repo, name, { signal });
    if (now === intent.digest)
      return ['failed', 'the tag still points at the image: recorded as not done'];
    if (now === undefined) {
      const cleanup = await removeDanglingTags(client, repo, [name], await tagsOf(repo), signal);
      return cleanup.removed.length > 0
        ? ['done', 'the tag was left listed pointing at nothing: removed it']
        : ['done', 'the tag is gone: recorded as done'];
    }
    const cleared = await removeOwnPlaceholder(client, repo, name, now, signal);
    return cleared.removed
      ? ['done', 'its placeholder was left on the tag: deleted it']
      : ['failed', `the tag now points at ${imageId(repo, now)} (pushed since): left alone`];
  }
  const old = imageId(repo, intent.digest);
  if (
    !intent.replacement ||
    intent.tags.length !== 1 ||
    !repositories.has(repo) ||
    classifyTag(name).kind !== 'fallback'
  )
    return [
      'failed',
      `not a fallback-index rewrite in a repository of this plan: ${old} is left as it is`,
    ];
  const now = await client.resolve(repo, name, { signal });
  if (now !== intent.replacement || intent.digest === intent.replacement)
    return ['failed', 'the tag does not hold the rewritten index: nothing to finish'];
  const inUse = await oldIndexInUse(client, plan, graph, intent, signal);
  if (inUse) return ['failed', `its old index ${old} is not deleted, because ${inUse}`];
  await client.deleteManifest(repo, intent.digest, { signal });
  return ['done', `finished it: deleted the old index ${old}`];
}

/**
 * A journal's "finished" is believed only where the registry agrees: a deleted image is gone, an
 * untagged tag no longer points at its image. Otherwise (an edited journal, or someone pushed it
 * again) the operation is handled as not done: the usual path re-checks and does it again. Sends
 * one HEAD per finished operation.
 */
export async function confirmFinished(
  client: RegistryClient,
  journal: ApplyJournal,
  plan: CleanupPlan,
  signal: AbortSignal | undefined,
): Promise<void> {
  const claims = [
    ...plan.untag
      .filter((op) => journal.finished.has(`untag ${op.tag}`))
      .map((op) => ({
        key: `untag ${op.tag}`,
        repository: repositoryOfTag(op.tag),
        ref: tagName(op.tag),
        still: digestOfImage(op.image),
        what: `the tag still points at ${op.image}`,
      })),
    ...plan.delete
      .filter((op) => journal.finished.has(`delete ${op.image}`))
      .map((op) => ({
        key: `delete ${op.image}`,
        repository: repositoryOfImage(op.image),
        ref: digestOfImage(op.image),
        still: digestOfImage(op.image),
        what: 'the registry still has it',
      })),
  ];
  const refuted = await Promise.all(
    claims.map(
      async (claim) =>
        (await client.resolve(claim.repository, claim.ref, { signal })) === claim.still,
    ),
  );
  claims.forEach((claim, i) => {
    if (!refuted[i]) return;
    const seq = journal.finished.get(claim.key);
    journal.finished.delete(claim.key);
    journal.notes.push(
      `undo journal record ${seq} (${claim.key}) says it was done, but ${claim.what}: done again after the re-check`,
    );
  });
}
