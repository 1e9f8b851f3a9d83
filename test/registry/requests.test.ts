import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGraph, RegistryClient } from '../../src/registry/index.js';
import { pushCosign, pushImage, pushIndex, pushReferrer, tagManifest } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

let reg: RunningRegistry;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

function countingClient(): { client: RegistryClient; log: string[] } {
  const log: string[] = [];
  const client = new RegistryClient({
    url: reg.url,
    fetch: (input, init) => {
      const request = input instanceof Request ? input : undefined;
      const url = new URL(request ? request.url : String(input));
      log.push(`${request?.method ?? init?.method ?? 'GET'} ${url.pathname}${url.search}`);
      return fetch(input, init);
    },
  });
  return { client, log };
}

describe('request count of loadGraph (real registry)', () => {
  it('one manifest request per tag, one per unique untagged manifest, plus list pages', async () => {
    // repo one: a chain with an untagged base, two tags on one digest, a multi-arch index whose
    // children are untagged (one also tagged), an SBOM in a fallback index and a cosign signature.
    const base = await pushImage(reg, 'one', { salt: 'base' });
    const app = await pushImage(reg, 'one', { salt: 'app', parent: base, tag: 'v1' });
    await tagManifest(reg, 'one', 'latest', app.digest);
    const x = await pushImage(reg, 'one', { salt: 'x', tag: 'amd64-only' });
    const y = await pushImage(reg, 'one', { salt: 'y' });
    const z = await pushImage(reg, 'one', { salt: 'z' });
    const index = await pushIndex(reg, 'one', { tag: 'multi', manifests: [x, y, z] });
    await pushReferrer(reg, 'one', app, { artifactType: 'application/spdx+json', content: 'sbom' });
    await pushCosign(reg, 'one', index, 'sig');
    await pushImage(reg, 'two', { salt: 't', tag: 'only' });
    // Tags: v1, latest, amd64-only, multi, sha256-<app>, sha256-<index>.sig, two:only = 7.
    // Untagged manifests reached: base, y, z, the SBOM = 4.
    // List pages: catalog 1 + tags/list 2. Referrers API probe: 1 (2.8 has none).
    const { client, log } = countingClient();
    const graph = await loadGraph(client);
    // base, app, x, y, z, index, SBOM, signature, two:only (the fallback index is not an image).
    expect(graph.size).toBe(9);
    const manifestRequests = log.filter((l) => l.includes('/manifests/'));
    expect(manifestRequests).toHaveLength(7 + 4);
    expect(new Set(manifestRequests).size).toBe(manifestRequests.length);
    const listRequests = log.filter((l) => l.includes('/tags/list') || l.includes('/_catalog'));
    expect(listRequests).toHaveLength(3);
    expect(log.filter((l) => l.includes('/referrers/'))).toHaveLength(1);
    expect(log.filter((l) => l.includes('/blobs/'))).toHaveLength(0);
    expect(log).toHaveLength(7 + 4 + 3 + 1);
    expect(client.requestCount).toBe(log.length);

    // With dates: one config blob per unique image config (7 images have image configs).
    const dated = countingClient();
    const withDates = await loadGraph(dated.client, { dates: true });
    const blobRequests = dated.log.filter((l) => l.includes('/blobs/'));
    const configs = new Set(
      withDates.images().flatMap((id) =>
        withDates
          .blobsOf(id)
          .filter((b) => b.role === 'config')
          .map((b) => b.id),
      ),
    );
    expect(blobRequests.length).toBeLessThanOrEqual(configs.size);
    expect(blobRequests.length).toBeGreaterThan(0);
    expect(withDates.imageInfo(`one@${app.digest}`)?.created).toBeUndefined();
    expect(dated.log.length).toBe(7 + 4 + 3 + 1 + blobRequests.length);
  });
});
