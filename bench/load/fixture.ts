/** The deterministic images of the apply-under-load benchmark (shared by seeder and pusher). */
import type { PushTarget } from '../../test/helpers/push.js';
import { OCI_MANIFEST, pushBlob, pushManifest } from '../../test/helpers/push.js';

/** Repositories of the benchmark: `load/r00` … (distribution 2.8 scans every tag of a repository on each manifest DELETE, so tags are spread as in real registries). */
export const REPOS = Array.from({ length: 20 }, (_, r) => `load/r${String(r).padStart(2, '0')}`);

export interface SharedBlobs {
  config: { digest: string; size: number };
  layer: { digest: string; size: number };
}

/** One layer and one config shared by every image: images differ only in an annotation. */
export async function pushSharedBlobs(target: PushTarget, repo: string): Promise<SharedBlobs> {
  const layer = await pushBlob(target, repo, 'the one layer of the load benchmark');
  const config = await pushBlob(
    target,
    repo,
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
    }),
    'application/vnd.oci.image.config.v1+json',
  );
  return { config, layer };
}

/** The exact manifest bytes of image `name`. */
export function manifestBytes(blobs: SharedBlobs, name: string): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blobs.config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blobs.layer }],
      annotations: { 'dev.regprune.bench': name },
    }),
  );
}

/** Pushes image `name` under `tag`; returns its digest. */
export async function pushNamed(
  target: PushTarget,
  repo: string,
  blobs: SharedBlobs,
  name: string,
  tag: string,
): Promise<string> {
  return (await pushManifest(target, repo, tag, manifestBytes(blobs, name), OCI_MANIFEST)).digest;
}
