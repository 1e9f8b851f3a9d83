/**
 * Journals can be edited by others (CI caches): a resumed `applyPlan` and `restore` act only on
 * what the journal can prove and the registry confirms. Each forged journal here is what a forger
 * with write access to the file (but without a journal key) can produce: records in the journal's
 * format, with the plan's digest on the run line and the integrity chain recomputed.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CleanupPlan, planCleanup } from '../../src/index.js';
import {
  applyPlan,
  JournalError,
  loadGraph,
  RegistryClient,
  restore,
} from '../../src/registry/index.js';
import { planDigest } from '../../src/registry/journal.js';
import {
  fallbackTag,
  getManifest,
  listTags,
  manifestStatus,
  type PushTarget,
  pushImage,
  pushIndex,
  pushReferrer,
} from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';
import { useTempDir } from '../helpers/temp-dir.js';

const dir = useTempDir('regprune-journal-trust-');

let reg: RunningRegistry;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

/**
 * Writes `records` as a journal the way a forger would: each line's `mac` chains it to the line
 * before (sha256 of the previous mac, a newline and the record's JSON), so the chain checks out;
 * with `key`, an HMAC-SHA256 chain (what only a key holder can produce).
 */
async function forgeJournal(
  path: string,
  records: Array<Record<string, unknown>>,
  key?: string,
): Promise<void> {
  let prev = '';
  let text = '';
  for (const record of records) {
    const body = JSON.stringify(record);
    const input = `${prev}\n${body}`;
    const mac = key
      ? `hmac-sha256:${createHmac('sha256', key).update(input).digest('hex')}`
      : `sha256:${createHash('sha256').update(input).digest('hex')}`;
    text += `${body.slice(0, -1)},"mac":"${mac}"}\n`;
    prev = mac;
  }
  await writeFile(path, text, { mode: 0o600 });
}

function runLine(plan: CleanupPlan | string, registry = reg.url): Record<string, unknown> {
  return {
    type: 'run',
    format: 'regprune.journal.v1',
    plan: typeof plan === 'string' ? plan : planDigest(plan),
    registry,
    at: '2026-01-01T00:00:00.000Z',
  };
}

/** An intent record naming `digest` in `repo`, with the manifest's real bytes. */
async function intentLine(
  target: PushTarget,
  seq: number,
  fields: { action: string; id: string; repo: string; digest: string; tags: string[] },
  replacement?: string,
): Promise<Record<string, unknown>> {
  const found = await getManifest(target, fields.repo, fields.digest);
  if (!found) throw new Error(`${fields.repo}@${fields.digest} not found`);
  return {
    type: 'intent',
    seq,
    action: fields.action,
    id: fields.id,
    repository: fields.repo,
    digest: fields.digest,
    mediaType: found.mediaType,
    manifest: Buffer.from(found.bytes).toString('base64'),
    tags: fields.tags,
    ...(replacement ? { replacement } : {}),
  };
}

/** A client that logs `METHOD path` of every request. */
function loggingClient(url: string): { client: RegistryClient; log: string[] } {
  const log: string[] = [];
  const client = new RegistryClient({
    url,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
      const target = new URL(input instanceof Request ? input.url : String(input));
      log.push(`${method} ${target.pathname}`);
      return fetch(input, init);
    }) as typeof fetch,
  });
  return { client, log };
}

describe('a resumed apply acts only on what the plan holds and the registry confirms (real docker-registry 2.8)', () => {
  it('forged records naming operations outside the plan (a rewrite deleting a kept image, a delete, an untag) are ignored and reported, never sent', async () => {
    const repo = 'trust/outside';
    const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const old = await pushImage(reg, repo, { tag: 'old', salt: 'old' });
    const setup = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(setup, { repositories: [repo] });
    const plan = planCleanup(graph, [`${repo}:keep`]);
    expect(plan.delete.map((op) => op.image)).toEqual([`${repo}@${old.digest}`]);
    const journal = join(dir(), 'outside.jsonl');
    const forgedId = `${repo}:old`;
    await forgeJournal(journal, [
      runLine(plan),
      // "The tag old already points at the replacement: finish by deleting the old index" — whose
      // digest is the kept image.
      await intentLine(
        reg,
        1,
        { action: 'rewrite', id: forgedId, repo, digest: keep.digest, tags: ['old'] },
        old.digest,
      ),
      await intentLine(reg, 2, {
        action: 'delete',
        id: `${repo}@${keep.digest}`,
        repo,
        digest: keep.digest,
        tags: ['keep'],
      }),
      await intentLine(reg, 3, {
        action: 'untag',
        id: `${repo}:keep`,
        repo,
        digest: keep.digest,
        tags: ['keep'],
      }),
    ]);

    const { client, log } = loggingClient(reg.url);
    const result = await applyPlan(client, plan, { graph, journal });

    expect(log).not.toContain(`DELETE /v2/${repo}/manifests/${keep.digest}`);
    expect(log.filter((l) => l.startsWith('PUT '))).toEqual([]);
    expect(await manifestStatus(reg, repo, keep.digest)).toBe(200);
    expect(await listTags(reg, repo)).toEqual(['keep']);
    await pullsCompletely(reg.host, repo, 'keep');
    // The plan itself was carried out, and the three records are reported as ignored.
    expect(result.totals).toEqual({ done: 1, skipped: 0, failed: 0, planned: 0 });
    expect(result.outcomes).toEqual([
      expect.objectContaining({ action: 'delete', id: `${repo}@${old.digest}`, status: 'done' }),
    ]);
    const notes = result.notes.join('\n');
    for (const what of [
      `rewrite ${forgedId}`,
      `delete ${repo}@${keep.digest}`,
      `untag ${repo}:keep`,
    ])
      expect(notes).toMatch(
        new RegExp(
          `undo journal record [0-9]+ \\(${what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) is not an operation of this plan: ignored, nothing sent`,
        ),
      );
  });

  it('a forged rewrite of a real fallback tag of the plan does not delete a digest a current tag reaches; it is listed in the result', async () => {
    const repo = 'trust/fallback';
    const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    await pushReferrer(reg, repo, keep, {
      artifactType: 'application/vnd.buildkit.cache.v1+json',
      content: 'cache',
    });
    const index = await getManifest(reg, repo, fallbackTag(keep.digest));
    if (!index) throw new Error('no fallback index');
    const setup = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(setup, { repositories: [repo] });
    const plan = planCleanup(graph, {
      rules: [{ keepTags: ['keep'] }],
      referrers: ['application/vnd.buildkit.cache*'],
    });
    expect(plan.delete).toHaveLength(1);
    const id = `${repo}:${fallbackTag(keep.digest)}`;
    const journal = join(dir(), 'fallback.jsonl');
    await forgeJournal(journal, [
      runLine(plan),
      await intentLine(
        reg,
        1,
        { action: 'rewrite', id, repo, digest: keep.digest, tags: [fallbackTag(keep.digest)] },
        index.digest,
      ),
    ]);

    const { client, log } = loggingClient(reg.url);
    const result = await applyPlan(client, plan, { graph, journal });

    expect(log).not.toContain(`DELETE /v2/${repo}/manifests/${keep.digest}`);
    expect(await manifestStatus(reg, repo, keep.digest)).toBe(200);
    expect(await listTags(reg, repo)).toEqual(['keep']);
    await pullsCompletely(reg.host, repo, 'keep');
    const resumed = result.outcomes.find(
      (o) => o.action === 'rewrite' && o.id === id && o.status === 'skipped',
    );
    expect(resumed?.reason).toMatch(
      /^an interrupted earlier run's rewrite \(undo journal record 1\) was not finished/,
    );
    expect(resumed?.reason).toContain(`${repo}:keep`);
    // The plan's own deletion and fallback cleanup still happened.
    expect(result.outcomes.filter((o) => o.action === 'delete')).toEqual([
      expect.objectContaining({ status: 'done' }),
    ]);
  });

  it('a genuine interrupted rewrite (new index on the tag, old one not yet deleted) is finished on resume and listed in the result', async () => {
    const repo = 'trust/genuine';
    const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    await pushReferrer(reg, repo, keep, { artifactType: 'application/spdx+json', content: 'sbom' });
    await pushReferrer(reg, repo, keep, {
      artifactType: 'application/vnd.buildkit.cache.v1+json',
      content: 'cache',
    });
    const oldIndex = (await getManifest(reg, repo, fallbackTag(keep.digest)))?.digest as string;
    const setup = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(setup, { repositories: [repo] });
    const plan = planCleanup(graph, {
      rules: [{ keepTags: ['keep'] }],
      referrers: ['application/vnd.buildkit.cache*'],
    });
    const journal = join(dir(), 'genuine.jsonl');
    // The first run stops between the rewrite's PUT and the old index's DELETE.
    const stopped = new RegistryClient({
      url: reg.url,
      retry: 0,
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
        const url = input instanceof Request ? input.url : String(input);
        if (method === 'DELETE' && url.endsWith(`/manifests/${oldIndex}`))
          throw new Error('connection lost');
        return fetch(input, init);
      }) as typeof fetch,
    });
    const first = await applyPlan(stopped, plan, { graph, journal });
    expect(first.outcomes.find((o) => o.action === 'rewrite')?.status).toBe('failed');
    expect(await manifestStatus(reg, repo, oldIndex)).toBe(200);
    const id = `${repo}:${fallbackTag(keep.digest)}`;

    const { client, log } = loggingClient(reg.url);
    const result = await applyPlan(client, plan, { graph, journal });

    expect(log).toContain(`DELETE /v2/${repo}/manifests/${oldIndex}`);
    expect(await manifestStatus(reg, repo, oldIndex)).toBe(404);
    expect(result.outcomes).toContainEqual(
      expect.objectContaining({
        action: 'rewrite',
        id,
        status: 'done',
        reason: `finished an interrupted earlier run's rewrite (undo journal): deleted the old index ${repo}@${oldIndex}`,
      }),
    );
    expect(result.totals).toMatchObject({ skipped: 0, failed: 0 });
    expect(result.notes.join('\n')).not.toContain('undo journal record');
    await pullsCompletely(reg.host, repo, 'keep');
  });

  it('a forged "done" for a planned index is checked against the registry: its children are not deleted from under it', async () => {
    const repo = 'trust/done';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const x = await pushImage(reg, repo, { salt: 'x', architecture: 'amd64' });
    const y = await pushImage(reg, repo, { salt: 'y', architecture: 'arm64' });
    const multi = await pushIndex(reg, repo, { tag: 'multi-old', manifests: [x, y] });
    const setup = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(setup, { repositories: [repo] });
    const plan = planCleanup(graph, [`${repo}:keep`]);
    expect(plan.delete.map((op) => op.image)).toContain(`${repo}@${multi.digest}`);
    const journal = join(dir(), 'done.jsonl');
    await forgeJournal(journal, [
      runLine(plan),
      await intentLine(reg, 1, {
        action: 'delete',
        id: `${repo}@${multi.digest}`,
        repo,
        digest: multi.digest,
        tags: ['multi-old'],
      }),
      { type: 'end', seq: 1, status: 'done' },
    ]);

    const result = await applyPlan(new RegistryClient({ url: reg.url }), plan, { graph, journal });

    // Never an index left tagged with its children gone: the claim was not believed, and the
    // index was deleted (after the re-check) like any planned image.
    expect(await manifestStatus(reg, repo, multi.digest)).toBe(404);
    expect(await listTags(reg, repo)).toEqual(['keep']);
    expect(result.totals).toEqual({ done: 3, skipped: 0, failed: 0, planned: 0 });
    expect(
      result.outcomes.find((o) => o.id === `${repo}@${multi.digest}`)?.reason ?? '',
    ).not.toMatch(/earlier run/);
    expect(result.notes.join('\n')).toContain(
      `undo journal record 1 (delete ${repo}@${multi.digest}) says it was done, but the registry still has it: done again after the re-check`,
    );
  });
});

describe('restore trusts a journal only for what its records own (real docker-registry 2.8)', () => {
  it('a replacement recorded for another tag does not let restore re-point a kept tag: conflict', async () => {
    const repo = 'trust/replacement';
    const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const other = await pushImage(reg, repo, { tag: 'other', salt: 'other' });
    const journal = join(dir(), 'replacement.jsonl');
    await forgeJournal(journal, [
      runLine(`sha256:${'1'.repeat(64)}`),
      await intentLine(
        reg,
        1,
        {
          action: 'rewrite',
          id: `${repo}:${fallbackTag(other.digest)}`,
          repo,
          digest: other.digest,
          tags: ['keep'],
        },
        keep.digest,
      ),
    ]);

    const result = await restore(new RegistryClient({ url: reg.url }), journal);

    expect(await getManifest(reg, repo, 'keep')).toMatchObject({ digest: keep.digest });
    expect(result.tags).toEqual([
      expect.objectContaining({ tag: `${repo}:keep`, digest: other.digest, status: 'conflict' }),
    ]);
    await pullsCompletely(reg.host, repo, 'keep');
  });

  it('a rewrite record of a plain tag, or of a fallback tag whose current index lists what the old one did not, does not let restore re-point it: conflict', async () => {
    const repo = 'trust/rewrite-own';
    const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const other = await pushImage(reg, repo, { tag: 'other', salt: 'other' });
    for (const [subject, content] of [
      [keep, 'keep sbom'],
      [other, 'other sbom'],
    ] as const)
      await pushReferrer(reg, repo, subject, { artifactType: 'application/spdx+json', content });
    const keepIndex = (await getManifest(reg, repo, fallbackTag(keep.digest)))?.digest as string;
    const otherIndex = (await getManifest(reg, repo, fallbackTag(other.digest)))?.digest as string;
    const journal = join(dir(), 'rewrite-own.jsonl');
    await forgeJournal(journal, [
      runLine(`sha256:${'3'.repeat(64)}`),
      // "keep was rewritten to its current digest": a plain tag is never a rewrite's.
      await intentLine(
        reg,
        1,
        { action: 'rewrite', id: `${repo}:keep`, repo, digest: other.digest, tags: ['keep'] },
        keep.digest,
      ),
      // "keep's fallback index was rewritten from other's": the current one lists a referrer the
      // claimed old index never did.
      await intentLine(
        reg,
        2,
        {
          action: 'rewrite',
          id: `${repo}:${fallbackTag(keep.digest)}`,
          repo,
          digest: otherIndex,
          tags: [fallbackTag(keep.digest)],
        },
        keepIndex,
      ),
    ]);

    const result = await restore(new RegistryClient({ url: reg.url }), journal);

    expect(await getManifest(reg, repo, 'keep')).toMatchObject({ digest: keep.digest });
    expect(await getManifest(reg, repo, fallbackTag(keep.digest))).toMatchObject({
      digest: keepIndex,
    });
    expect(result.tags.map((t) => [t.tag, t.status])).toEqual([
      [`${repo}:keep`, 'conflict'],
      [`${repo}:${fallbackTag(keep.digest)}`, 'conflict'],
    ]);
  });

  it("refuses another registry's journal (JournalError naming both); allowOtherRegistry restores it", async () => {
    const mirror = await startRegistry();
    try {
      const repo = 'trust/mirror';
      // The same images in both: a mirror.
      for (const target of [reg, mirror]) {
        await pushImage(target, repo, { tag: 'keep', salt: 'keep' });
        await pushImage(target, repo, { tag: 'old', salt: 'old' });
      }
      const a = new RegistryClient({ url: reg.url });
      const graph = await loadGraph(a, { repositories: [repo] });
      const plan = planCleanup(graph, [`${repo}:keep`]);
      const journal = join(dir(), 'mirror.jsonl');
      await applyPlan(a, plan, { graph, journal });
      expect(await listTags(reg, repo)).toEqual(['keep']);
      // The mirror's owner deletes old there on their own.
      const old = (await getManifest(mirror, repo, 'old'))?.digest as string;
      const b = new RegistryClient({ url: mirror.url });
      await b.deleteManifest(repo, old);
      expect(await listTags(mirror, repo)).toEqual(['keep']);

      // apply refuses the journal for the mirror, and so does restore.
      await expect(applyPlan(b, plan, { journal })).rejects.toThrow(JournalError);
      const before = b.requestCount;
      const error = await restore(b, journal).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JournalError);
      expect((error as Error).message).toContain(reg.url);
      expect((error as Error).message).toContain(mirror.url);
      expect((error as Error).message).toContain('allowOtherRegistry');
      expect(b.requestCount).toBe(before);
      expect(await listTags(mirror, repo)).toEqual(['keep']);
      expect(await manifestStatus(mirror, repo, old)).toBe(404);

      const forced = await restore(b, journal, { allowOtherRegistry: true });
      expect(forced.tags).toEqual([
        expect.objectContaining({ tag: `${repo}:old`, status: 'restored' }),
      ]);
      expect(await listTags(mirror, repo)).toEqual(['keep', 'old']);
    } finally {
      await mirror.stop();
    }
  });

  it('compares registries normalised (scheme and host case, trailing slash); a journal without a run line is refused', async () => {
    const repo = 'trust/normalised';
    const keep = await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const client = new RegistryClient({ url: reg.url });
    const journal = join(dir(), 'normalised.jsonl');
    const written = `HTTP://127.0.0.1:${reg.port}/`;
    await forgeJournal(journal, [
      runLine(`sha256:${'2'.repeat(64)}`, written),
      await intentLine(reg, 1, {
        action: 'untag',
        id: `${repo}:gone`,
        repo,
        digest: keep.digest,
        tags: ['gone'],
      }),
    ]);
    const result = await restore(client, journal);
    expect(result.tags).toEqual([
      expect.objectContaining({ tag: `${repo}:gone`, status: 'restored' }),
    ]);

    const orphan = join(dir(), 'no-run.jsonl');
    await forgeJournal(orphan, [
      await intentLine(reg, 1, {
        action: 'untag',
        id: `${repo}:other`,
        repo,
        digest: keep.digest,
        tags: ['other'],
      }),
    ]);
    await expect(restore(client, orphan)).rejects.toThrow(/names no registry/);
    expect(await listTags(reg, repo)).toEqual(['gone', 'keep']);
  });
});

describe('journal integrity chain (real docker-registry 2.8)', () => {
  async function applied(repo: string, file: string, journalKey?: string) {
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    await pushImage(reg, repo, { tag: 'a', salt: 'a' });
    await pushImage(reg, repo, { tag: 'b', salt: 'b' });
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, { repositories: [repo] });
    const plan = planCleanup(graph, [`${repo}:keep`]);
    const journal = join(dir(), file);
    await applyPlan(client, plan, { graph, journal, ...(journalKey ? { journalKey } : {}) });
    return { client, plan, journal };
  }

  it('every line carries a mac chained to the one before; an edited, inserted or removed line in the middle is refused naming the line', async () => {
    const { client, plan, journal } = await applied('trust/chain', 'chain.jsonl');
    const lines = (await readFile(journal, 'utf8')).trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/,"mac":"sha256:[0-9a-f]{64}"\}$/);
    const intentAt = lines.findIndex((l) => l.includes('"type":"intent"'));

    const edited = [...lines];
    edited[intentAt] = (edited[intentAt] as string).replace(/"tags":\[[^\]]*\]/, '"tags":["keep"]');
    expect(edited[intentAt]).not.toBe(lines[intentAt]);
    const removed = lines.filter((_, i) => i !== intentAt);
    const inserted = [...lines];
    inserted.splice(intentAt, 0, lines[intentAt] as string);
    for (const [name, variant, line] of [
      ['edited', edited, intentAt + 1],
      ['removed', removed, intentAt + 1],
      ['inserted', inserted, intentAt + 2],
    ] as const) {
      await writeFile(journal, `${variant.join('\n')}\n`);
      const error = await restore(client, journal).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(JournalError);
      expect((error as Error).message, name).toMatch(
        new RegExp(`line ${line}: .*does not follow from the line before`),
      );
      await expect(applyPlan(client, plan, { journal }), name).rejects.toThrow(JournalError);
    }
  });

  it('with a journalKey, a forger without the key is refused; the key holder resumes and restores', async () => {
    const key = 'a journal key of the CI job';
    const { client, plan, journal } = await applied('trust/keyed', 'keyed.jsonl', key);
    const text = await readFile(journal, 'utf8');
    for (const line of text.trimEnd().split('\n'))
      expect(line).toMatch(/,"mac":"hmac-sha256:[0-9a-f]{64}"\}$/);
    expect(text).not.toContain(key);

    // Without the key the journal cannot be checked: refused, saying so.
    await expect(restore(client, journal)).rejects.toThrow(/journal key/);
    await expect(applyPlan(client, plan, { journal })).rejects.toThrow(/journal key/);
    // A wrong key is refused.
    await expect(restore(client, journal, { journalKey: 'guess' })).rejects.toThrow(
      /line 1: .*does not match the journal key/,
    );
    // A forger's re-chained unkeyed copy is refused by the key holder.
    const forged = join(dir(), 'keyed-forged.jsonl');
    const records = text
      .trimEnd()
      .split('\n')
      .map((l) => {
        const { mac: _mac, ...rest } = JSON.parse(l) as Record<string, unknown>;
        return rest;
      });
    await forgeJournal(forged, records);
    await expect(restore(client, forged, { journalKey: key })).rejects.toThrow(
      /line 1: .*not keyed/,
    );

    // The key holder resumes (nothing left to send) and restores.
    const again = await applyPlan(client, plan, { journal, journalKey: key });
    expect(again.outcomes.every((o) => o.reason?.startsWith('done by an earlier run'))).toBe(true);
    const restored = await restore(client, journal, { journalKey: key });
    expect(restored.tags.map((t) => t.status)).toEqual(['restored', 'restored']);
    expect(await listTags(reg, 'trust/keyed')).toEqual(['a', 'b', 'keep']);
  });
});
