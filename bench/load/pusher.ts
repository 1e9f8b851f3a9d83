/**
 * The concurrent pusher of the apply-under-load benchmark, in its own process:
 * `node --import tsx bench/load/pusher.ts <registry url> <blobs.json> <images per repository>`.
 * Until SIGTERM it pushes, one after another, new images under new tags (`new-N`) and, every
 * fourth push, a `rescue-N` tag onto an image the plan deletes (`img-K`, K not a multiple of 5).
 * Each push is printed as a JSON line once the registry acknowledged it.
 */
import { readFile } from 'node:fs/promises';
import { pushNamed, REPOS, type SharedBlobs } from './fixture.js';

const [url, blobsFile, perRepo] = process.argv.slice(2);
if (!url || !blobsFile || !perRepo) process.exit(2);
const blobs = JSON.parse(await readFile(blobsFile, 'utf8')) as SharedBlobs;
let stop = false;
process.on('SIGTERM', () => {
  stop = true;
});
for (let n = 0; !stop; n++) {
  const repo = REPOS[(n * 7) % REPOS.length] as string;
  const rescue = n % 4 === 3;
  let k = (n * 7919) % Number(perRepo);
  if (k % 5 === 0) k += 1;
  const name = rescue ? `${repo}/img-${k}` : `${repo}/new-${n}`;
  const tag = rescue ? `rescue-${n}` : `new-${n}`;
  const at = Date.now();
  const digest = await pushNamed({ url }, repo, blobs, name, tag);
  process.stdout.write(`${JSON.stringify({ repo, tag, digest, rescue, at })}\n`);
}
