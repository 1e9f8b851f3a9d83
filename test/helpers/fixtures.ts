/**
 * Fixtures whose digests do not depend on the repository name (explicit layers and salts), so the
 * same fixture in two repositories can be compared digest for digest: one run with faults or a
 * kill, one reference run without.
 */
import {
  type PushTarget,
  pushCosign,
  pushImage,
  pushIndex,
  pushReferrer,
  tagManifest,
} from './push.js';

/**
 * `keep` (kept) with `aliases` extra tags (untagged), `drops` images tagged `drop-N` (deleted),
 * an index `multi-old` with two children (deleted, index first), and `old` with an SBOM in its
 * fallback index and a cosign signature (deleted with its attachments).
 */
export async function cleanupFixture(
  target: PushTarget,
  repo: string,
  options: { aliases?: number; drops?: number } = {},
): Promise<void> {
  const keep = await pushImage(target, repo, { tag: 'keep', salt: 'keep', layers: ['keep layer'] });
  for (let i = 0; i < (options.aliases ?? 2); i++)
    await tagManifest(target, repo, `alias-${i}`, keep.digest);
  await pushReferrer(target, repo, keep, {
    artifactType: 'application/spdx+json',
    content: 'sbom of keep',
  });
  for (let i = 0; i < (options.drops ?? 4); i++)
    await pushImage(target, repo, { tag: `drop-${i}`, salt: `drop-${i}`, layers: [`drop ${i}`] });
  const x = await pushImage(target, repo, { salt: 'x', layers: ['x'], architecture: 'amd64' });
  const y = await pushImage(target, repo, { salt: 'y', layers: ['y'], architecture: 'arm64' });
  await pushIndex(target, repo, { tag: 'multi-old', manifests: [x, y] });
  const old = await pushImage(target, repo, { tag: 'old', salt: 'old', layers: ['old layer'] });
  await pushReferrer(target, repo, old, {
    artifactType: 'application/spdx+json',
    content: 'sbom of old',
  });
  await pushCosign(target, repo, old, 'sig');
}
