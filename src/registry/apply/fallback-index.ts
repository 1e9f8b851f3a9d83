/** Referrers fallback indexes (tag `sha256-<digest>`) rewritten before their referrers go. */

import { fallbackIndexAfterDeletes } from '../../core/attachments.js';
import { digestOfImage, repositoryOfImage, tagId } from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { digestOf } from '../digest.js';
import type { Descriptor } from '../manifest.js';
import { OCI_INDEX } from '../media-types.js';
import { manifestRequest } from '../requests.js';
import type { TagWatch } from '../tag-watch.js';
import { removeTag } from '../untag.js';
import { type Context, mustStop, noteFailure, report } from './context.js';
import { draftOf, journaled } from './journal-intents.js';

export function fallbackTagOf(digest: string): string {
  return digest.replace(':', '-');
}

/**
 * Before referrers go, the fallback index of each affected subject is rewritten without them (or
 * removed when nothing stays, or when the subject itself goes now).
 * @returns subjects (digests) whose fallback index could not be updated: their referrers, and
 *   they themselves, must not be deleted now.
 */
export async function rewriteFallbackIndexes(
  ctx: Context,
  repo: string,
  proceed: DeleteOperation[],
  watch: TagWatch,
): Promise<Set<string>> {
  const unrewritten = new Set<string>();
  const { client, graph } = ctx;
  const deleting = new Set(proceed.map((op) => digestOfImage(op.image)));
  const subjects = new Set<string>();
  for (const op of proceed) {
    subjects.add(digestOfImage(op.image));
    for (const subject of graph.targetsOf(op.image, 'referrer'))
      subjects.add(digestOfImage(subject));
  }
  const goneHere = new Set(
    [...ctx.gone].filter((i) => repositoryOfImage(i) === repo).map(digestOfImage),
  );
  for (const subject of [...subjects].sort()) {
    const tag = fallbackTagOf(subject);
    const indexDigest = watch.tags.get(tag);
    if (!indexDigest) continue;
    // The run stopped: no rewrite starts, and what it would have let go stays.
    if (ctx.stop?.aborted) {
      unrewritten.add(subject);
      continue;
    }
    const id = tagId(repo, tag);
    const requests = [manifestRequest('GET', repo, tag)];
    try {
      const fetched = await client.getManifest(repo, tag, { signal: ctx.signal });
      if (!fetched) continue;
      const entries =
        (JSON.parse(new TextDecoder().decode(fetched.bytes)) as { manifests?: Descriptor[] })
          .manifests ?? [];
      const decision = fallbackIndexAfterDeletes(
        entries,
        new Set([...goneHere, ...deleting]),
        deleting.has(subject),
      );
      if (decision.action === 'keep') continue;
      const sharedWith = watch.tagsAt(fetched.digest).filter((t) => t !== tag);
      const draft = ctx.journal
        ? draftOf('rewrite', id, repo, fetched, [tag, ...sharedWith], OCI_INDEX)
        : undefined;
      if (decision.action === 'rewrite') {
        const bytes = new TextEncoder().encode(
          JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: decision.manifests }),
        );
        if (draft) draft.replacement = digestOf(bytes);
        await journaled(ctx.journal, draft, async () => {
          requests.push(manifestRequest('PUT', repo, tag));
          await client.putManifest(repo, tag, bytes, OCI_INDEX, { signal: ctx.signal });
          if (sharedWith.length === 0) {
            requests.push(manifestRequest('DELETE', repo, fetched.digest));
            await client.deleteManifest(repo, fetched.digest, { signal: ctx.signal });
          }
        });
        // Our own change to the tag: the read after the DELETEs must not take it for someone else's.
        watch.tags.set(tag, digestOf(bytes));
        report(ctx, {
          action: 'rewrite',
          id,
          status: 'done',
          reason: `referrers fallback index rewritten without ${entries.length - decision.manifests.length} deleted referrer(s)`,
          requests,
        });
      } else {
        await journaled(ctx.journal, draft, async () => {
          if (sharedWith.length === 0) {
            requests.push(manifestRequest('DELETE', repo, fetched.digest));
            await client.deleteManifest(repo, fetched.digest, { signal: ctx.signal });
          } else {
            requests.push(...(await removeTag(client, repo, tag, ctx.signal)).requests);
          }
        });
        watch.tags.delete(tag);
        report(ctx, {
          action: 'rewrite',
          id,
          status: 'done',
          reason: deleting.has(subject)
            ? 'referrers fallback tag removed with its subject'
            : 'referrers fallback tag removed: no referrers left',
          requests,
        });
      }
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      unrewritten.add(subject);
      report(ctx, {
        action: 'rewrite',
        id,
        status: 'failed',
        reason: (error as Error).message,
        requests,
      });
    }
  }
  return unrewritten;
}
