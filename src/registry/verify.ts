/**
 * `verifyRegistry`: does every tag still pull completely? The guarantee regprune gives (a kept tag
 * still pulls) checked against the registry itself, the way a client would find out: the tag's
 * manifest, every index child (nested too), every config and layer blob, and the subject of every
 * referrer.
 */
import { classifyTag } from '../core/attachments.js';
import { imageId, tagId } from '../core/naming.js';
import { compareIds } from '../core/sort.js';
import type { VerifyProblem, VerifyProblemKind, VerifyReport } from '../core/verify-report.js';
import type { RegistryClient } from './client.js';
import { DigestMismatchError } from './errors/digest-mismatch-error.js';
import { MalformedManifestError } from './errors/malformed-manifest-error.js';
import { resolveRepositories } from './load-graph.js';
import { type ParsedManifest, parseManifest } from './manifest.js';

export type { VerifyProblem, VerifyProblemKind, VerifyReport } from '../core/verify-report.js';

/** Options of {@link verifyRegistry}. */
export interface VerifyOptions {
  /** Repository names or globs (`team/**`); default: the whole catalog. */
  repositories?: readonly string[];
  /** Only these tags (`repo:tag`); default: every tag of the repositories. */
  tags?: readonly string[];
  signal?: AbortSignal;
}

type Manifest =
  | { state: 'ok'; parsed: ParsedManifest }
  | { state: 'missing' }
  | { state: 'opaque'; mediaType: string }
  | { state: 'unreadable'; message: string };

/**
 * Checks that every tag of the chosen repositories resolves completely: its manifest, every index
 * child (recursively), every config and layer blob (`HEAD`), and the subject of every referrer
 * (`subject` field, cosign-style `sha256-<hex>.sig|.att|.sbom` tags, fallback tags). Reads only;
 * each manifest and blob is asked for once.
 *
 * @example
 * ```ts
 * const report = await verifyRegistry(client, { repositories: ['team/**'] });
 * if (report.problems.length > 0) console.error(verifyTable(report));
 * ```
 */
export async function verifyRegistry(
  client: RegistryClient,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const signal = options.signal;
  const wanted = options.tags ? groupTags(options.tags) : undefined;
  const repositories = wanted
    ? [...wanted.keys()].sort()
    : await resolveRepositories(client, options.repositories, signal);
  const manifests = new Map<string, Promise<Manifest>>();
  const blobs = new Map<string, Promise<boolean>>();
  const problems: VerifyProblem[] = [];
  const opaque = new Set<string>();
  const tags: string[] = [];

  const manifest = (repo: string, digest: string): Promise<Manifest> => {
    const key = imageId(repo, digest);
    let entry = manifests.get(key);
    if (!entry) {
      entry = readManifest(client, repo, digest, signal);
      manifests.set(key, entry);
    }
    return entry;
  };
  const blob = (repo: string, digest: string): Promise<boolean> => {
    const key = `${repo}@${digest}`;
    let entry = blobs.get(key);
    if (!entry) {
      entry = client.hasBlob(repo, digest, { signal });
      blobs.set(key, entry);
    }
    return entry;
  };

  /** Walks one image (and below) reached from `tag`; `path` ends with this image. */
  const walk = async (repo: string, tag: string, digest: string, path: string[]): Promise<void> => {
    const id = imageId(repo, digest);
    const found = await manifest(repo, digest);
    const problem = (kind: VerifyProblemKind, what: string, message: string): void => {
      problems.push({ kind, tag, id: what, path, message });
    };
    if (found.state === 'missing') {
      problem(
        'missing-manifest',
        id,
        `${path.at(-2) ?? tag} lists ${id}, which the registry does not have`,
      );
      return;
    }
    if (found.state === 'unreadable') return problem('unreadable', id, found.message);
    if (found.state === 'opaque') {
      opaque.add(`${id} (${found.mediaType})`);
      return;
    }
    const { parsed } = found;
    const checks: Promise<void>[] = [];
    for (const child of parsed.manifests) {
      checks.push(walk(repo, tag, child.digest, [...path, imageId(repo, child.digest)]));
    }
    for (const needed of [...(parsed.config ? [parsed.config] : []), ...parsed.layers]) {
      checks.push(
        blob(repo, needed.digest).then((has) => {
          if (!has)
            problem(
              'missing-blob',
              needed.digest,
              `${id} needs blob ${needed.digest}, which is gone`,
            );
        }),
      );
    }
    if (parsed.subject) {
      const subject = parsed.subject.digest;
      checks.push(
        manifest(repo, subject).then((s) => {
          if (s.state === 'missing') {
            problem(
              'missing-subject',
              imageId(repo, subject),
              `${id} is attached to ${imageId(repo, subject)}, which is gone`,
            );
          }
        }),
      );
    }
    await Promise.all(checks);
  };

  await Promise.all(
    repositories.map(async (repo) => {
      const listed = await client.listTags(repo, { signal });
      const names = wanted ? [...(wanted.get(repo) ?? [])] : listed;
      const present = new Set(listed);
      await Promise.all(
        names.map(async (name) => {
          const tag = tagId(repo, name);
          tags.push(tag);
          if (!present.has(name)) {
            problems.push({
              kind: 'dangling-tag',
              tag,
              id: tag,
              path: [],
              message: `${tag} is not listed`,
            });
            return;
          }
          const fetched = await client.getManifest(repo, name, { signal });
          if (!fetched) {
            problems.push({
              kind: 'dangling-tag',
              tag,
              id: tag,
              path: [],
              message: `${tag} is listed, but its manifest answers 404 (a pull by tag fails with "manifest unknown")`,
            });
            return;
          }
          const root = imageId(repo, fetched.digest);
          manifests.set(
            root,
            Promise.resolve(
              parsedOrProblem(fetched.bytes, fetched.mediaType, repo, fetched.digest),
            ),
          );
          const checks = [walk(repo, tag, fetched.digest, [root])];
          const kind = classifyTag(name);
          if (kind.kind !== 'plain') {
            checks.push(
              manifest(repo, kind.subject).then((s) => {
                if (s.state === 'missing') {
                  const subject = imageId(repo, kind.subject);
                  problems.push({
                    kind: 'missing-subject',
                    tag,
                    id: subject,
                    path: [root],
                    message: `${tag} is attached to ${subject}, which is gone`,
                  });
                }
              }),
            );
          }
          await Promise.all(checks);
        }),
      );
    }),
  );
  problems.sort(
    (a, b) => compareIds(a.tag, b.tag) || compareIds(a.id, b.id) || compareIds(a.kind, b.kind),
  );
  return {
    registry: client.url,
    tags: tags.sort(compareIds),
    checked: { manifests: manifests.size, blobs: blobs.size },
    opaque: [...opaque].sort(compareIds),
    problems,
  };
}

function groupTags(tags: readonly string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const tag of tags) {
    const at = tag.lastIndexOf(':');
    const repo = tag.slice(0, at);
    const set = out.get(repo) ?? new Set<string>();
    set.add(tag.slice(at + 1));
    out.set(repo, set);
  }
  return out;
}

async function readManifest(
  client: RegistryClient,
  repo: string,
  digest: string,
  signal: AbortSignal | undefined,
): Promise<Manifest> {
  try {
    const fetched = await client.getManifest(repo, digest, { signal });
    if (!fetched) return { state: 'missing' };
    return parsedOrProblem(fetched.bytes, fetched.mediaType, repo, digest);
  } catch (error) {
    if (error instanceof DigestMismatchError) {
      return { state: 'unreadable', message: error.message };
    }
    throw error;
  }
}

function parsedOrProblem(
  bytes: Uint8Array,
  mediaType: string,
  repo: string,
  digest: string,
): Manifest {
  try {
    const parsed = parseManifest(bytes, mediaType, repo, digest);
    // Content regprune cannot read: what it needs is unknown, so it is not followed.
    if (parsed.kind === 'opaque') return { state: 'opaque', mediaType: parsed.mediaType };
    return { state: 'ok', parsed };
  } catch (error) {
    if (error instanceof MalformedManifestError) {
      return { state: 'unreadable', message: error.message };
    }
    throw error;
  }
}
