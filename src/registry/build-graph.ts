import { classifyTag, cosignArtifactType } from '../core/attachments.js';
import { ImageGraph } from '../core/image-graph.js';
import { imageId, tagId } from '../core/naming.js';
import { isOciDigest } from '../core/oci/digest.js';
import { artifactTypeOf } from '../core/oci/media-types.js';
import type { ImageInfo, ImageWarning } from '../core/types.js';
import { baseRepository } from './base-image.js';
import {
  BASE_DIGEST,
  BASE_NAME,
  CREATED,
  type LoadedManifest,
  type Loader,
  type RepositoryData,
} from './loader.js';

function infoOf(
  data: RepositoryData,
  digest: string,
  loaded: LoadedManifest,
  loader: Loader,
): ImageInfo {
  const { parsed } = loaded;
  const info: ImageInfo = { mediaType: loaded.mediaType, size: loaded.size };
  if (parsed.kind === 'opaque') info.opaque = `unknown media type ${loaded.mediaType}`;
  const platform = data.platforms.get(digest);
  if (platform) info.platform = platform;
  const artifactType = artifactTypeOf(
    parsed.artifactType,
    parsed.config?.mediaType,
    data.artifactTypes.get(digest),
  );
  if (artifactType) info.artifactType = artifactType;
  if (parsed.annotations) info.annotations = parsed.annotations;
  const created =
    (parsed.config && loader.created.get(parsed.config.digest)) ?? parsed.annotations?.[CREATED];
  if (created) info.created = created;
  const pushed = loader.pushed.get(imageId(data.repository, digest));
  if (pushed) info.pushed = pushed;
  return info;
}

/**
 * Adds what `loader` read to `graph` (a new graph by default): images `repo@digest` with their
 * blobs, child / referrer / parent edges, and tags `repo:tag`. Images the graph already holds keep
 * their edges (manifests are immutable). Fallback indexes are not images: their entries become
 * referrers of the subject. Cosign-style tags become referrer edges of their subject and are not
 * set as tags — unless the subject is missing, when they stay ordinary tags.
 */
export function buildGraph(loader: Loader, graph = new ImageGraph()): ImageGraph {
  const fresh = new Set<string>();
  const has = (repo: string, digest: string) => graph.hasImage(imageId(repo, digest));
  for (const data of loader.repos.values()) {
    const fallbackDigests = new Set<string>();
    for (const [subject, index] of data.fallbackIndexes) {
      if (data.manifests.has(subject) || has(data.repository, subject)) fallbackDigests.add(index);
    }
    for (const [digest, loaded] of data.manifests) {
      if (fallbackDigests.has(digest)) continue;
      const id = imageId(data.repository, digest);
      if (graph.hasImage(id)) continue;
      graph.addImage(id, infoOf(data, digest, loaded, loader));
      fresh.add(id);
      const { config, layers } = loaded.parsed;
      if (config) graph.addBlob(id, config.digest, { role: 'config', size: config.size });
      for (const layer of layers)
        graph.addBlob(id, layer.digest, { role: 'layer', size: layer.size });
    }
  }
  for (const data of loader.repos.values()) {
    const repo = data.repository;
    for (const [digest, loaded] of data.manifests) {
      const id = imageId(repo, digest);
      if (!fresh.has(id)) continue;
      const { parsed } = loaded;
      const missing: string[] = [];
      for (const child of parsed.manifests) {
        if (child.digest === digest) continue;
        if (has(repo, child.digest)) graph.addChild(id, imageId(repo, child.digest));
        else missing.push(child.digest);
      }
      // Every child is fetched, so one the graph lacks answered 404: a partial multi-arch image.
      if (missing.length > 0) {
        const warning: ImageWarning = {
          code: 'MISSING_CHILDREN',
          message: `the index lists ${missing.length} manifest(s) the registry does not have (404): ${missing.join(', ')}; pulls of those platforms fail`,
        };
        graph.addImage(id, { warnings: [...(graph.imageInfo(id)?.warnings ?? []), warning] });
      }
      if (parsed.subject && has(repo, parsed.subject.digest) && parsed.subject.digest !== digest)
        graph.addReferrer(id, imageId(repo, parsed.subject.digest));
      const base = parsed.kind === 'opaque' ? undefined : parsed.annotations?.[BASE_DIGEST];
      if (base !== undefined) {
        const problem = linkBase(graph, id, repo, base, parsed.annotations?.[BASE_NAME], loader);
        if (problem)
          graph.addImage(id, { warnings: [...(graph.imageInfo(id)?.warnings ?? []), problem] });
      }
      for (const subject of data.referrerOf.get(digest) ?? []) {
        if (has(repo, subject) && subject !== digest) graph.addReferrer(id, imageId(repo, subject));
      }
    }
    for (const tag of data.danglingTags) {
      graph.addWarning({
        code: 'DANGLING_TAG',
        id: tagId(repo, tag),
        message: `${tagId(repo, tag)} is listed by the registry, but its manifest answers 404 (left by an interrupted delete, or deleted while the tags were read); it is not in the graph, and apply removes it unless its repository is out of policy scope (a tag that points at a manifest again by then is left alone)`,
      });
    }
    for (const [tag, digest] of data.tags) {
      const id = imageId(repo, digest);
      if (!graph.hasImage(id)) continue; // fallback indexes
      const kind = classifyTag(tag);
      if (kind.kind === 'cosign' && has(repo, kind.subject) && kind.subject !== digest) {
        const subject = imageId(repo, kind.subject);
        if (!graph.targetsOf(id, 'referrer').includes(subject)) graph.addReferrer(id, subject);
        if (!graph.imageInfo(id)?.artifactType)
          graph.addImage(id, { artifactType: cosignArtifactType(kind.suffix) });
        continue;
      }
      graph.setTag(tagId(repo, tag), id);
    }
  }
  return graph;
}

/**
 * Links `id` to its base image when the base is in the loaded graph (by repository and digest, the
 * name's host in any spelling of this registry's); otherwise says why not, as a plan warning:
 * nothing protects a base regprune cannot find, so whoever reads the plan should know.
 */
function linkBase(
  graph: ImageGraph,
  id: string,
  repo: string,
  base: string,
  name: string | undefined,
  loader: Loader,
): ImageWarning | undefined {
  if (!isOciDigest(base)) {
    return {
      code: 'INVALID_BASE_DIGEST',
      message: `${BASE_DIGEST} is ${JSON.stringify(base)}, which is not a digest; no parent is linked`,
    };
  }
  const baseRepo = baseRepository(name, repo, loader.host);
  if (baseRepo === undefined) {
    return {
      code: 'UNRESOLVED_BASE',
      message: `its base image ${JSON.stringify(name)} (${base}) is not in this registry (${loader.host}); if it is, under another host name, nothing protects it`,
    };
  }
  const parent = imageId(baseRepo, base);
  if (parent === id) return undefined;
  if (graph.hasImage(parent)) {
    graph.addParent(id, parent);
    return undefined;
  }
  return {
    code: 'UNRESOLVED_BASE',
    message: `its base image ${parent} is not in the loaded graph (gone, or in a repository that was not loaded); nothing protects it`,
  };
}
