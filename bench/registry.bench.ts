/**
 * Registry load benchmark (`npm run bench:registry`): 2,000 tags over 20 repositories on Debian's
 * real docker-registry. Reports loadGraph wall time at concurrency 1, 8 and 32, the same inventory
 * read by a shell loop of `skopeo inspect --raw` per tag (what people do today), the ratio, and
 * requests per tag.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { loadGraph, RegistryClient } from '../src/registry/index.js';
import { OCI_MANIFEST, pushBlob, pushManifest } from '../test/helpers/push.js';
import { startRegistry } from '../test/helpers/registry-server.js';

const run = promisify(execFile);
const REPOS = 20;
const TAGS_PER_REPO = 100;

const reg = await startRegistry();
try {
  const t0 = performance.now();
  const limit = pLimit(16);
  const inventory: string[] = [];
  for (let r = 0; r < REPOS; r++) {
    const repo = `bench/repo-${String(r).padStart(2, '0')}`;
    const layer = await pushBlob(reg, repo, `layer of ${repo}`);
    const config = await pushBlob(
      reg,
      repo,
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
      'application/vnd.oci.image.config.v1+json',
    );
    await Promise.all(
      Array.from({ length: TAGS_PER_REPO }, (_, t) =>
        limit(async () => {
          const tag = `v${t}`;
          inventory.push(`${repo}:${tag}`);
          await pushManifest(
            reg,
            repo,
            tag,
            {
              schemaVersion: 2,
              mediaType: OCI_MANIFEST,
              config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
              layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
              annotations: { 'org.opencontainers.image.version': `${repo}:${tag}` },
            },
            OCI_MANIFEST,
          );
        }),
      ),
    );
  }
  console.log(
    `pushed ${inventory.length} tags in ${REPOS} repositories in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const rows: Array<{ what: string; seconds: number; requests: number }> = [];
  for (const concurrency of [1, 8, 32]) {
    const client = new RegistryClient({ url: reg.url, concurrency });
    const start = performance.now();
    const graph = await loadGraph(client);
    const seconds = (performance.now() - start) / 1000;
    if (graph.tags().length !== inventory.length)
      throw new Error(`loaded ${graph.tags().length} tags, pushed ${inventory.length}`);
    rows.push({
      what: `loadGraph, concurrency ${concurrency}`,
      seconds,
      requests: client.requestCount,
    });
  }

  const list = join(reg.dataDir, '..', 'inventory.txt');
  await writeFile(list, `${inventory.join('\n')}\n`);
  const start = performance.now();
  await run(
    'bash',
    [
      '-c',
      `while read -r ref; do skopeo inspect --raw --tls-verify=false "docker://${reg.host}/$ref" > /dev/null; done < "$1"`,
      'loop',
      list,
    ],
    { maxBuffer: 1024 * 1024, timeout: 30 * 60_000 },
  );
  const skopeo = (performance.now() - start) / 1000;
  rows.push({ what: 'shell loop of skopeo inspect --raw', seconds: skopeo, requests: Number.NaN });

  console.log('');
  console.log(
    `| ${inventory.length} tags, ${REPOS} repositories | wall time | vs skopeo loop | requests per tag |`,
  );
  console.log('|---|---:|---:|---:|');
  for (const row of rows) {
    const ratio = skopeo / row.seconds;
    const perTag = Number.isNaN(row.requests) ? '—' : (row.requests / inventory.length).toFixed(3);
    console.log(`| ${row.what} | ${row.seconds.toFixed(2)} s | ${ratio.toFixed(1)}x | ${perTag} |`);
  }
  const at8 = rows[1] as { seconds: number };
  const speedup = skopeo / at8.seconds;
  console.log('');
  console.log(
    `concurrency 8 is ${speedup.toFixed(1)}x faster than the skopeo loop (target: at least 10x): ${speedup >= 10 ? 'met' : 'NOT met'}`,
  );
} finally {
  await reg.stop();
}
