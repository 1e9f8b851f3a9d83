/**
 * Image references as clusters report them (`kubectl get pods -A -o jsonpath='{..image}'`, ECS
 * `describe-tasks`), resolved against a graph: the images in use, which a plan must keep.
 */
import type { ImageGraph } from './image-graph.js';
import { digestOfImage } from './naming.js';
import type { PlanWarning } from './plan-types.js';
import { compareIds } from './sort.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const DEFAULT_PORTS = new Set(['', '80', '443']);

/**
 * `host:port` in one spelling per registry: lower case, every loopback name (`localhost`,
 * `127.0.0.1`, `[::1]`) as one, no port for the default ones (80, 443, none).
 */
export function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  // `name[:port]`, the name bracketed when it is an IPv6 address; anything else is kept whole.
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(lower);
  const name = match ? (match[1] as string) : lower;
  const port = match?.[2] ?? '';
  const canonical = LOOPBACK.has(name) ? 'loopback' : name;
  return DEFAULT_PORTS.has(port) ? canonical : `${canonical}:${port}`;
}

/** Whether two `host[:port]` spellings name the same registry (see {@link canonicalHost}). */
export function sameRegistryHost(a: string, b: string): boolean {
  return canonicalHost(a) === canonicalHost(b);
}

/** An image reference split into its parts. */
export interface ImageReference {
  /** The registry host (`registry.example.com:5000`), when the reference names one. */
  host?: string;
  /** The repository path (`team/app`); absent for a bare digest. */
  repository?: string;
  /** The tag (`latest` when the reference names neither tag nor digest). */
  tag?: string;
  /** The digest (`sha256:…`), when pinned. */
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
/** Prefixes container runtimes put before Kubernetes `imageID` values. */
const RUNTIME_PREFIX = /^(?:docker-pullable|docker):\/\//;

/**
 * Splits a list of image references: whitespace separated (spaces, tabs, newlines), so the output
 * of `kubectl get pods -A -o jsonpath='{..image}'`, a file with one per line, and ECS text output
 * all work. `docker-pullable://` and `docker://` prefixes (Kubernetes `imageID`) are dropped;
 * duplicates are dropped, the first order kept.
 * @example
 * ```ts
 * parseImageReferences('reg.example.com/app:v1 nginx:1.25 reg.example.com/app:v1');
 * // → ['reg.example.com/app:v1', 'nginx:1.25']
 * ```
 */
export function parseImageReferences(text: string): string[] {
  const seen = new Set<string>();
  for (const word of text.split(/\s+/)) {
    const ref = word.replace(RUNTIME_PREFIX, '');
    if (ref !== '') seen.add(ref);
  }
  return [...seen];
}

/**
 * Splits one reference as Docker does: the first path component is a host when it holds a `.` or
 * a `:` or is `localhost`; a reference with neither tag nor digest means `:latest`. A bare digest
 * (`sha256:…`) has only `digest`. Returns `{ problem }` for text that is no reference.
 */
export function parseImageReference(ref: string): ImageReference | { problem: string } {
  if (DIGEST.test(ref) && !ref.includes('/')) return { digest: ref };
  let rest = ref;
  const out: ImageReference = {};
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digest = rest.slice(at + 1);
    if (!DIGEST.test(digest)) return { problem: `${JSON.stringify(digest)} is not a digest` };
    out.digest = digest;
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') {
    out.host = first;
    rest = rest.slice(slash + 1);
  }
  const colon = rest.lastIndexOf(':');
  let repository = rest;
  if (colon > rest.lastIndexOf('/')) {
    const tag = rest.slice(colon + 1);
    if (!TAG.test(tag)) return { problem: `${JSON.stringify(tag)} is not a tag` };
    out.tag = tag;
    repository = rest.slice(0, colon);
  } else if (out.digest === undefined) out.tag = 'latest';
  if (!REPOSITORY.test(repository) || repository.length > 255)
    return {
      problem: `${JSON.stringify(repository)} is not a repository name (lowercase letters, digits, . _ - and /)`,
    };
  return { ...(out.host ? { host: out.host } : {}), repository, ...out };
}

/**
 * Images a plan must keep whatever else it says, e.g. because they run: planning options of
 * `planCleanup` (keep lists and policies alike) and `planDropTags`.
 */
export interface ProtectOptions {
  /**
   * Image references in use (see {@link resolveImageReferences} for the forms, and
   * {@link parseImageReferences} to read `kubectl` output). Each image found stays, with every tag
   * pointing at it; references the graph does not hold are plan warnings.
   */
  protectImages?: readonly string[];
  /** Where `protectImages` came from, named in reasons and warnings (a file name). Default `protectImages`. */
  protectImagesSource?: string;
  /** The loaded registry's `host[:port]`: references to other hosts are ignored with a warning. */
  registryHost?: string;
}

/** Options of {@link resolveImageReferences}. */
export interface ResolveReferencesOptions {
  /**
   * `host[:port]` of the registry the graph was loaded from (default ports and loopback names
   * compare equal). References naming another host are ignored, with one warning per host.
   * Without it, a reference's host is not checked: it is matched by repository, tag and digest.
   */
  registryHost?: string;
  /** Where the references came from, for warnings (a file name). Default `protectImages`. */
  source?: string;
}

/** What {@link resolveImageReferences} found: the images, sorted, and warnings. */
export interface ResolvedReferences {
  images: string[];
  warnings: PlanWarning[];
}

/**
 * Resolves image references against the graph: an image id or tag of the graph as it is, a bare
 * digest to every image with that digest (any repository), `repo@digest` and
 * `host/repo:tag@digest` to that image, `repo:tag` to the image the tag points at now. A reference
 * the graph does not hold is a warning (pods may run images from elsewhere), not an error.
 * @example
 * ```ts
 * const inUse = parseImageReferences(kubectlOutput);
 * resolveImageReferences(graph, inUse, { registryHost: client.host }).images;
 * ```
 */
export function resolveImageReferences(
  graph: ImageGraph,
  references: readonly string[],
  options: ResolveReferencesOptions = {},
): ResolvedReferences {
  const source = options.source ?? 'protectImages';
  const found = new Set<string>();
  const warnings: PlanWarning[] = [];
  const otherHosts = new Map<string, string[]>();
  let byDigest: Map<string, string[]> | undefined;
  const withDigest = (digest: string): string[] => {
    if (!byDigest) {
      byDigest = new Map();
      for (const image of graph.images()) {
        const d = digestOfImage(image);
        const list = byDigest.get(d);
        if (list) list.push(image);
        else byDigest.set(d, [image]);
      }
    }
    return byDigest.get(digest) ?? [];
  };
  const resolve = (ref: string): string[] => {
    if (graph.hasImage(ref)) return [ref];
    const target = graph.tagTarget(ref);
    if (target !== undefined) return [target];
    if (!ref.includes('@') && !ref.includes('/')) {
      const images = withDigest(ref);
      if (images.length > 0) return images;
    }
    const parsed = parseImageReference(ref);
    if ('problem' in parsed) return [];
    if (
      parsed.host &&
      options.registryHost &&
      !sameRegistryHost(parsed.host, options.registryHost)
    ) {
      const list = otherHosts.get(parsed.host) ?? [];
      list.push(ref);
      otherHosts.set(parsed.host, list);
      return ['other-host'];
    }
    if (parsed.repository === undefined) return withDigest(parsed.digest as string);
    if (parsed.digest !== undefined) {
      const id = `${parsed.repository}@${parsed.digest}`;
      return graph.hasImage(id) ? [id] : [];
    }
    const tagged = graph.tagTarget(`${parsed.repository}:${parsed.tag}`);
    return tagged === undefined ? [] : [tagged];
  };
  for (const ref of references) {
    const images = resolve(ref);
    if (images[0] === 'other-host') continue;
    if (images.length === 0) {
      warnings.push({
        code: 'PROTECTED_IMAGE_NOT_FOUND',
        id: ref,
        message: `${source} names ${ref}, which the graph does not hold (an image from elsewhere, a tag that is gone, or a typo), so it protects nothing here`,
      });
    }
    for (const image of images) found.add(image);
  }
  for (const [host, refs] of otherHosts) {
    const n = refs.length;
    warnings.push({
      code: 'PROTECTED_IMAGE_OTHER_REGISTRY',
      id: host,
      message: `${n} reference${n === 1 ? '' : 's'} in ${source} name${n === 1 ? 's' : ''} registry ${host}, not this one (${options.registryHost}), so ${n === 1 ? 'it protects' : 'they protect'} nothing here (e.g. ${refs[0]}); if ${host} is this registry under another name, write those references without the host`,
    });
  }
  warnings.sort((a, b) => compareIds(a.id, b.id) || compareIds(a.code, b.code));
  return { images: [...found].sort(compareIds), warnings };
}
