import { describe, expect, it } from 'vitest';
import { buildCsr, csrReachability } from '../../bench/csr-baseline.js';
import { generateGraph } from '../../bench/graph-generator.js';
import { ImageGraph, orphanedImages, planCleanup } from '../../src/index.js';

const SIZE = 4000;
const generated = generateGraph({ images: SIZE, seed: 7 });
const { json } = generated;

/** Top-level images: those no index lists and that are not referrers. */
function topLevelCount(): number {
  const listed = new Set(json.children.map(([, child]) => child));
  const referrers = new Set(json.referrers.map(([referrer]) => referrer));
  return json.images.filter((e) => !listed.has(e.id) && !referrers.has(e.id)).length;
}

describe('bench graph generator', () => {
  it('makes exactly the asked number of images, with registry-shaped ids', () => {
    expect(json.images).toHaveLength(SIZE);
    expect(new Set(json.images.map((e) => e.id)).size).toBe(SIZE);
    for (const e of json.images) expect(e.id).toMatch(/^[\w/-]+@sha256:[0-9a-f]{64}$/);
    for (const tag of Object.keys(json.tags)) expect(tag).toMatch(/^[\w/-]+:[\w.-]+$/);
  });

  it('has the issue’s edge kind ratios within tolerance', () => {
    const top = topLevelCount();
    const indexes = new Set(json.children.map(([index]) => index)).size;
    expect(indexes / top).toBeGreaterThan(0.16);
    expect(indexes / top).toBeLessThan(0.24);
    const perIndex = json.children.length / indexes;
    expect(perIndex).toBeGreaterThan(2.7);
    expect(perIndex).toBeLessThan(3.3);
    const signed = new Set(json.referrers.map(([, subject]) => subject)).size;
    expect(signed / top).toBeGreaterThan(0.07);
    expect(signed / top).toBeLessThan(0.13);
    const tagsPerTop = Object.keys(json.tags).length / top;
    expect(tagsPerTop).toBeGreaterThan(1.1);
    expect(tagsPerTop).toBeLessThan(1.3);
    expect(json.parents.length).toBeGreaterThan(0);
    // manifests carry one config and ~5 layers; layers are shared across images
    const manifests = json.images.filter((e) => e.blobs && e.info?.artifactType === undefined);
    const layers = manifests.flatMap((e) => (e.blobs ?? []).filter(([, role]) => role === 'layer'));
    expect(layers.length / manifests.length).toBeGreaterThan(4.5);
    expect(layers.length / manifests.length).toBeLessThan(5.5);
    for (const e of manifests)
      expect((e.blobs ?? []).filter(([, role]) => role === 'config')).toHaveLength(1);
    expect(new Set(layers.map(([id]) => id)).size).toBeLessThan(layers.length * 0.6);
    expect(generated.keepTags.length / Object.keys(json.tags).length).toBeGreaterThan(0.4);
    expect(generated.keepTags.length / Object.keys(json.tags).length).toBeLessThan(0.6);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateGraph({ images: 500, seed: 3 })).toEqual(
      generateGraph({ images: 500, seed: 3 }),
    );
    expect(generateGraph({ images: 500, seed: 4 }).json.images[0]?.id).not.toBe(
      generateGraph({ images: 500, seed: 3 }).json.images[0]?.id,
    );
  });

  it('round-trips through fromJSON/toJSON', () => {
    const graph = ImageGraph.fromJSON(json);
    expect(graph.size).toBe(SIZE);
    const back = graph.toJSON();
    expect(back.images).toEqual(json.images);
    expect(back.parents).toEqual(json.parents);
    expect(back.children).toEqual(json.children);
    expect(back.referrers).toEqual(json.referrers);
    expect(back.tags).toEqual(json.tags);
  });

  it('the CSR baseline finds the orphans and reclaimable blobs the core finds', () => {
    const graph = ImageGraph.fromJSON(json);
    const csr = csrReachability(buildCsr(json, generated.keepTags));
    const orphans = orphanedImages(graph, generated.keepTags);
    expect(orphans.length).toBeGreaterThan(SIZE / 10);
    expect(csr.orphanedImages).toBe(orphans.length);
    const plan = planCleanup(graph, generated.keepTags);
    expect(csr.keptImages).toBe(plan.summary.keptImages);
    expect(csr.reclaimableBlobs).toBe(plan.blobs.length);
  });
});
