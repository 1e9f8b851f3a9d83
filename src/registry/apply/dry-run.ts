/** The dry run: what a run would send, sending nothing. */

import {
  digestOfImage,
  repositoryOfImage,
  repositoryOfTag,
  tagId,
  tagName,
} from '../../core/naming.js';
import type { CleanupPlan } from '../../core/plan-types.js';
import type { ApplyResult, OperationOutcome } from '../../core/target.js';
import type { RegistryClient } from '../client.js';
import { manifestRequest, placeholderConfigRequest, tagListRequest } from '../requests.js';
import { EMPTY_JSON_DIGEST } from '../untag.js';
import { type ApplyTuning, deleteBatchSize } from './context.js';
import { fallbackTagOf } from './fallback-index.js';
import { IN_FLIGHT_LIST_MS } from './list-schedule.js';
import type { RegistryApplyOptions } from './orchestrate.js';
import { finish } from './result.js';

export function dryRunResult(
  plan: CleanupPlan,
  repositories: string[],
  options: RegistryApplyOptions,
  client: RegistryClient,
  tuning: ApplyTuning,
): ApplyResult {
  const window = deleteBatchSize(client, tuning);
  const outcomes: OperationOutcome[] = [];
  const referrerSubjects = new Set<string>();
  for (const op of plan.delete) {
    for (const subject of options.graph?.targetsOf(op.image, 'referrer') ?? [])
      referrerSubjects.add(subject);
  }
  const total =
    plan.untag.length +
    plan.delete.length +
    referrerSubjects.size +
    (plan.danglingTags?.length ?? 0);
  const push = (outcome: OperationOutcome) => {
    outcomes.push(outcome);
    options.onProgress?.({ done: outcomes.length, total, outcome });
  };
  const probes = repositories.map(
    (r) => `DELETE /v2/${r}/manifests/sha256:${'0'.repeat(64)} (probe: 404 means deletes work)`,
  );
  for (const op of plan.untag) {
    const repo = repositoryOfTag(op.tag);
    const name = tagName(op.tag);
    push({
      action: 'untag',
      id: op.tag,
      status: 'planned',
      reason: `${op.image} stays`,
      requests: [
        manifestRequest('HEAD', repo, name),
        manifestRequest('DELETE', repo, name),
        `or, where tags cannot be deleted: ${placeholderConfigRequest(repo, EMPTY_JSON_DIGEST)} + ${manifestRequest('PUT', repo, name, 'unique placeholder')} + ${manifestRequest('DELETE', repo, '<placeholder digest>')}`,
      ],
    });
  }
  for (const tag of plan.danglingTags ?? []) {
    const repo = repositoryOfTag(tag);
    const name = tagName(tag);
    push({
      action: 'untag',
      id: tag,
      status: 'planned',
      reason:
        'dangling tag (listed, its manifest answers 404): removed unless it points at a manifest again by then',
      requests: [
        tagListRequest(repo),
        manifestRequest('HEAD', repo, name, 'still 404?'),
        `${manifestRequest('DELETE', repo, name)}, or where tags cannot be deleted: a unique placeholder pushed to the tag and deleted by digest`,
      ],
    });
  }
  for (const op of plan.delete) {
    const repo = repositoryOfImage(op.image);
    push({
      action: 'delete',
      id: op.image,
      status: 'planned',
      reason: `wave ${op.wave}${op.tags.length > 0 ? `; its tags ${op.tags.join(', ')} go with it` : ''}`,
      requests: [
        manifestRequest(
          'GET',
          repo,
          digestOfImage(op.image),
          'its bytes, unless the first tag read fetched them: to push back a tag that goes with it unplanned',
        ),
        `GET /v2/${repo}/tags/list sent after its turn came, right before its DELETE (at most ${window} DELETE${window === 1 ? '' : 's'} of this repository in flight at once; the repository's first read also GETs /v2/${repo}/manifests/<tag> for every tag, later lists only for tags not seen before)`,
        manifestRequest('DELETE', repo, digestOfImage(op.image)),
        `GET /v2/${repo}/tags/list once after its DELETE was answered (the next one sent once the lists then in flight are answered: for another DELETE's turn, or within ${IN_FLIGHT_LIST_MS} ms; a new name in any list: GET /v2/${repo}/manifests/<tag> at once); a tag not planned to go that vanished with it: HEAD /v2/${repo}/manifests/<tag> (pushed again meanwhile? then it is left as it is), then PUT /v2/${repo}/manifests/<tag> with its bytes onto the image it pointed at, or onto the one DELETE in flight that can have taken it (reported, not pushed, when several could have)`,
        ...(op.tags.length > 0
          ? [
              `if it is gone without a clean 202 (the registry failed after unlinking it, or it was gone already): GET /v2/${repo}/tags/list, then for each of ${op.tags.map(tagName).join(', ')} still listed: HEAD /v2/${repo}/manifests/<tag> and, where it answers 404, remove the tag as an untag does`,
            ]
          : []),
      ],
    });
  }
  for (const subject of [...referrerSubjects].sort()) {
    const repo = repositoryOfImage(subject);
    const tag = fallbackTagOf(digestOfImage(subject));
    push({
      action: 'rewrite',
      id: tagId(repo, tag),
      status: 'planned',
      reason:
        'if this referrers fallback tag exists: rewritten without the deleted referrers, or removed when empty',
      requests: [
        manifestRequest('GET', repo, tag),
        manifestRequest('PUT', repo, tag),
        manifestRequest('DELETE', repo, '<old index digest>'),
      ],
    });
  }
  if (outcomes[0]) outcomes[0].requests = [...probes, ...(outcomes[0].requests ?? [])];
  return finish(true, outcomes, plan.reclaimableBytes, client);
}
