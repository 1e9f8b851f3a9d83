/**
 * The state of a repository in a test registry, read independently of regprune: its tags (API)
 * and the manifests it stores (revision links on the filesystem storage driver; a deleted
 * manifest loses its link).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listTags, manifestStatus } from './push.js';
import type { RunningRegistry } from './registry-server.js';

export interface RepositoryState {
  /** Tag → digest, sorted by tag. */
  tags: Record<string, string>;
  /** Manifest digests stored (linked), sorted. */
  manifests: string[];
}

/** Manifest digests the repository stores, from `_manifests/revisions/sha256/<hex>/link`. */
export async function storedManifests(reg: RunningRegistry, repo: string): Promise<string[]> {
  const dir = join(
    reg.dataDir,
    'docker/registry/v2/repositories',
    repo,
    '_manifests/revisions/sha256',
  );
  let hexes: string[] = [];
  try {
    hexes = await readdir(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const hex of hexes) {
    const link = await readFile(join(dir, hex, 'link'), 'utf8').catch(() => undefined);
    if (link?.trim() === `sha256:${hex}`) out.push(`sha256:${hex}`);
  }
  return out.sort();
}

/** Tags (each resolved with a HEAD) and stored manifests of `repo`. */
export async function repositoryState(
  reg: RunningRegistry,
  repo: string,
): Promise<RepositoryState> {
  const tags: Record<string, string> = {};
  for (const tag of await listTags(reg, repo)) {
    const response = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        accept: [
          'application/vnd.oci.image.manifest.v1+json',
          'application/vnd.oci.image.index.v1+json',
          'application/vnd.docker.distribution.manifest.v2+json',
          'application/vnd.docker.distribution.manifest.list.v2+json',
        ].join(', '),
      },
    });
    await response.arrayBuffer();
    tags[tag] = response.headers.get('docker-content-digest') ?? `HTTP ${response.status}`;
  }
  const manifests = await storedManifests(reg, repo);
  // Stored but not served would mean a broken registry: make it visible in comparisons.
  for (const digest of manifests) {
    const status = await manifestStatus(reg, repo, digest);
    if (status !== 200) tags[`(stored ${digest})`] = `HTTP ${status}`;
  }
  return { tags, manifests };
}
