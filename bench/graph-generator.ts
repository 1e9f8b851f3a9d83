/**
 * Deterministic generator of registry-shaped image graphs in the {@link ImageGraphJSON} form, for
 * the core benchmark. It writes the JSON directly (never through `ImageGraph.addImage`) so that
 * generating a graph costs nothing in the benchmark's "build" measurement.
 *
 * Shape, per top-level image (an image a tag would name):
 * - 80 % single-platform manifests, 20 % multi-arch indexes with 2–4 platform manifests;
 * - every manifest has a config blob and ~5 layers (3–7): one base layer drawn Zipf-like from a
 *   small pool (so base layers are shared very widely), the others drawn Zipf-like from a large
 *   shared pool or fresh; 30 % of single manifests are built on an earlier one (a `parent` edge;
 *   they reuse its layers and add 1–2);
 * - 10 % carry a signature referrer (config + one small layer);
 * - 90 % are tagged, a third of those twice (~1.2 tags per top-level image).
 * Ids are registry-shaped: images `repo@sha256:<hex>`, tags `repo:tag`, blobs `sha256:<hex>`.
 * Output is sorted like `ImageGraph.toJSON()` output.
 */
import type { ImageGraphJSON, ImageInfo } from '../src/core/types.js';

/** How to generate. */
export interface GeneratorOptions {
  /** Number of image nodes (indexes, platform manifests, single manifests and referrers). */
  images: number;
  /** PRNG seed; the same seed and size always give the same graph. */
  seed?: number;
}

/** A generated graph and a keep list holding about half of its tags. */
export interface GeneratedGraph {
  json: ImageGraphJSON;
  /** About half of the tags, drawn with the same PRNG. */
  keepTags: string[];
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const PLATFORMS = [
  ['linux', 'amd64'],
  ['linux', 'arm64'],
  ['linux', 'arm'],
  ['linux', 's390x'],
] as const;

const INDEX_SHARE = 0.2;
const SIGNED_SHARE = 0.1;
const PARENT_SHARE = 0.3;
const TAGGED_SHARE = 0.9;
const SECOND_TAG_SHARE = 1 / 3;
const BASE_LAYERS = 64;
/** Share of non-base layers drawn from the shared pool (the rest are fresh). */
const SHARED_LAYER_SHARE = 0.6;
const START = Date.UTC(2022, 0, 1);

/** sfc32: a small, fast PRNG with 128 bits of state; returns uint32. */
export function prng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

const HEX_CODES = Buffer.from('0123456789abcdef', 'latin1');

/** Generates a registry-shaped graph of exactly `options.images` image nodes. */
export function generateGraph(options: GeneratorOptions): GeneratedGraph {
  const total = options.images;
  if (!Number.isSafeInteger(total) || total < 1) throw new RangeError('images must be >= 1');
  const next = prng(options.seed ?? 1);
  const uniform = (): number => next() / 4294967296;
  const between = (lo: number, hi: number): number => lo + (next() % (hi - lo + 1));
  /** Zipf-like rank in [0, n): P(rank < k) ≈ log(k + 1) / log(n + 1). */
  const zipf = (n: number): number => Math.min(n - 1, Math.floor((n + 1) ** uniform()) - 1);
  // Ids are written into a buffer and decoded once, so they are flat strings like JSON.parse
  // gives (concatenation would leave rope strings that every later lookup has to flatten).
  const scratch = Buffer.alloc(512);
  const digestAfter = (prefix: string): string => {
    let at = scratch.write(prefix, 0, 'latin1');
    at += scratch.write('sha256:', at, 'latin1');
    for (let i = 0; i < 8; i++) {
      const w = next();
      for (let shift = 28; shift >= 0; shift -= 4)
        scratch[at++] = HEX_CODES[(w >>> shift) & 15] as number;
    }
    return scratch.toString('latin1', 0, at);
  };
  const digest = (): string => digestAfter('');
  const flat = (text: string): string =>
    scratch.toString('latin1', 0, scratch.write(text, 0, 'latin1'));

  const repoCount = Math.max(4, Math.round(Math.sqrt(total) / 4));
  const repos = Array.from(
    { length: repoCount },
    (_, i) => `team-${i % 7}/service-${String(i).padStart(4, '0')}`,
  );
  const tagCounter = new Int32Array(repoCount);
  const sharedPool: (string | undefined)[] = new Array(Math.max(100, Math.floor(total / 8)));
  const basePool: (string | undefined)[] = new Array(BASE_LAYERS);

  const images: ImageGraphJSON['images'] = [];
  const parents: Array<[string, string]> = [];
  const children: Array<[string, string]> = [];
  const referrers: Array<[string, string]> = [];
  const blobSizes: Record<string, number> = {};
  const tags: Array<[string, string]> = [];
  /** Single manifests that later images may be built on, with their layers. */
  const bases: Array<{ id: string; layers: string[] }> = [];

  const newBlob = (size: number): string => {
    const id = digest();
    blobSizes[id] = size;
    return id;
  };
  const layerSize = (): number => Math.floor(1024 * 200_000 ** uniform());
  const pooled = (pool: (string | undefined)[], rank: number): string => {
    let id = pool[rank];
    if (id === undefined) {
      id = newBlob(layerSize());
      pool[rank] = id;
    }
    return id;
  };
  const freshLayers = (): string[] => {
    const count = between(3, 7);
    const layers = [pooled(basePool, zipf(BASE_LAYERS))];
    while (layers.length < count) {
      const id =
        uniform() < SHARED_LAYER_SHARE
          ? pooled(sharedPool, zipf(sharedPool.length))
          : newBlob(layerSize());
      if (!layers.includes(id)) layers.push(id);
    }
    return layers;
  };
  const created = (n: number): string => new Date(START + n * 60_000).toISOString();
  const manifest = (
    repo: string,
    layers: string[],
    extra: Partial<ImageInfo>,
  ): ImageGraphJSON['images'][number] => {
    const blobs: Array<[string, 'config' | 'layer']> = [
      [newBlob(between(1_000, 20_000)), 'config'],
    ];
    for (const layer of layers) blobs.push([layer, 'layer']);
    const entry = {
      id: digestAfter(`${repo}@`),
      info: {
        mediaType: OCI_MANIFEST,
        size: 400 + layers.length * 200,
        created: created(images.length),
        ...extra,
      },
      blobs,
    };
    images.push(entry);
    return entry;
  };

  while (images.length < total) {
    const remaining = total - images.length;
    const r = zipf(repoCount);
    const repo = repos[r] as string;
    let top: string;
    if (remaining >= 3 && uniform() < INDEX_SHARE) {
      const platforms = Math.min(between(2, 4), remaining - 1);
      const index = { id: digestAfter(`${repo}@`), info: { mediaType: OCI_INDEX, size: 700 } };
      images.push(index);
      top = index.id;
      for (let p = 0; p < platforms; p++) {
        const [os, architecture] = PLATFORMS[p] as (typeof PLATFORMS)[number];
        const child = manifest(repo, freshLayers(), { platform: { os, architecture } });
        children.push([index.id, child.id]);
      }
    } else {
      let layers: string[];
      let parent: string | undefined;
      if (bases.length > 0 && uniform() < PARENT_SHARE) {
        const base = bases[next() % bases.length] as { id: string; layers: string[] };
        parent = base.id;
        layers = base.layers.slice(0, 5);
        for (let extra = between(1, 2); extra > 0; extra--) layers.push(newBlob(layerSize()));
      } else {
        layers = freshLayers();
      }
      const entry = manifest(repo, layers, {});
      if (parent !== undefined) parents.push([entry.id, parent]);
      bases.push({ id: entry.id, layers });
      top = entry.id;
    }
    if (images.length < total && uniform() < SIGNED_SHARE) {
      const sig = {
        id: digestAfter(`${repo}@`),
        info: { mediaType: OCI_MANIFEST, size: 500, artifactType: SIGNATURE },
        blobs: [
          [newBlob(233), 'config'],
          [newBlob(between(250, 400)), 'layer'],
        ] as Array<[string, 'config' | 'layer']>,
      };
      images.push(sig);
      referrers.push([sig.id, top]);
    }
    if (uniform() < TAGGED_SHARE) {
      const n = (tagCounter[r] as number) + 1;
      tagCounter[r] = n;
      tags.push([flat(`${repo}:1.${Math.floor(n / 100)}.${n % 100}`), top]);
      if (uniform() < SECOND_TAG_SHARE) tags.push([flat(`${repo}:build-${n}`), top]);
    }
  }

  const keepTags = tags.filter(() => uniform() < 0.5).map(([tag]) => tag);
  const byId = (a: { id: string }, b: { id: string }) => compare(a.id, b.id);
  const byPair = (a: [string, string], b: [string, string]) =>
    compare(a[0], b[0]) || compare(a[1], b[1]);
  images.sort(byId);
  for (const entry of images) entry.blobs?.sort((a, b) => compare(a[0], b[0]));
  parents.sort(byPair);
  children.sort(byPair);
  referrers.sort(byPair);
  tags.sort(byPair);
  return {
    json: {
      format: 'regprune.graph.v1',
      images,
      parents,
      children,
      referrers,
      // Key order means nothing to fromJSON; re-sorting millions of keys would only cost memory.
      blobSizes,
      tags: Object.fromEntries(tags),
    },
    keepTags: keepTags.sort(compare),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
