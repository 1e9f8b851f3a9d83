/**
 * The undo journal: an append-only JSON-lines file written during `applyPlan`. Before each
 * destructive request it holds what is about to be lost (the manifest's exact bytes and the tags
 * on it), fsynced before the request leaves; after the request, a line saying how it ended. It is
 * what {@link restore} re-pushes and what a resumed `applyPlan` reads to skip finished work.
 *
 * Each line ends with a `mac` chained to the line before (see {@link JournalKey}): a line edited,
 * inserted or removed in the middle breaks the chain and the journal is refused. Without a key the
 * chain only detects damage and careless edits; a forger can recompute it, so resume and restore
 * also check every record against the plan and the registry.
 */
import { createHash, createHmac } from 'node:crypto';
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CleanupPlan } from '../core/plan-types.js';
import { syncDirectory } from '../io/atomic-write.js';
import { digestOf } from './digest.js';
import { JournalError } from './errors/journal-error.js';
import { isDigest, isRepositoryName, isTag } from './reference.js';

/**
 * A journal key: with it every record's `mac` is an HMAC-SHA256 chain only the key's holder can
 * produce; without it, a plain SHA-256 chain (detects damage and edits in the middle, not a forger
 * who recomputes it). A non-empty string (UTF-8) or bytes.
 */
export type JournalKey = string | Uint8Array;

/** Options of {@link readJournal} and {@link JournalWriter.open}. */
export interface JournalIntegrity {
  /** Key of the HMAC chain. Default: none (an unkeyed SHA-256 chain). */
  key?: JournalKey | undefined;
}

/** The journal format written by this version. */
export const JOURNAL_FORMAT = 'regprune.journal.v1';

/**
 * One `applyPlan` run starts. A journal may hold runs of several plans (a weekly cleanup re-plans
 * and appends to the same file), all against one registry; the records after a run line, up to the
 * next, belong to that run.
 */
export interface JournalRun {
  type: 'run';
  format: typeof JOURNAL_FORMAT;
  /** Digest of the plan's operations: a resumed run continues the last run only for this plan. */
  plan: string;
  registry: string;
  at: string;
}

/** Written (and fsynced) before an operation's first destructive request. */
export interface JournalIntent {
  type: 'intent';
  /** Unique within the journal; the matching {@link JournalEnd} names it. */
  seq: number;
  /** The plan operation: `delete` an image, `untag` a tag, `rewrite` a referrers fallback index. */
  action: 'delete' | 'untag' | 'rewrite';
  /** The plan's id of the operation: `repo@sha256:…` (delete) or `repo:tag` (untag, rewrite). */
  id: string;
  repository: string;
  /** Digest of the manifest whose bytes follow. */
  digest: string;
  mediaType: string;
  /** The manifest's exact bytes, base64. */
  manifest: string;
  /** Bare tags that pointed at `digest` and may be lost by this operation. */
  tags: string[];
  /** For `rewrite`: the digest of the index written in its place. */
  replacement?: string;
}

/** How an operation ended (written after its requests). */
export interface JournalEnd {
  type: 'end';
  seq: number;
  status: 'done' | 'failed';
}

export type JournalRecord = JournalRun | JournalIntent | JournalEnd;

/** What an existing journal says about earlier runs. */
export interface JournalState {
  runs: JournalRun[];
  intents: JournalIntent[];
  /** `seq` → how the operation ended. */
  ends: Map<number, JournalEnd['status']>;
  /** `seq` of an intent → index in `runs` of the run it was written in (-1: before any run line). */
  runOf: Map<number, number>;
  /** `seq` → index in `runs` of the run that wrote its (last) end. */
  endRunOf: Map<number, number>;
  /** Highest `seq` used so far (0 when none). */
  lastSeq: number;
  /** Bytes up to the end of the last complete line: what follows is an unfinished write. */
  completeBytes: number;
  /** The `mac` of the last complete record ('' when none): the next record chains to it. */
  lastMac: string;
}

const MAC_TAIL = /,"mac":"((?:sha256|hmac-sha256):[0-9a-f]{64})"\}$/;

function checkKey(key: JournalKey | undefined): void {
  if (key !== undefined && key.length === 0)
    throw new TypeError('journal key: must not be empty (leave it out for an unkeyed journal)');
}

/**
 * The `mac` of a record: a hash of the previous record's `mac`, a newline and the record's JSON
 * (without its `mac`), so that each record vouches for all before it.
 */
function macOf(previous: string, body: string, key: JournalKey | undefined): string {
  const input = `${previous}\n${body}`;
  return key === undefined
    ? `sha256:${createHash('sha256').update(input).digest('hex')}`
    : `hmac-sha256:${createHmac('sha256', key).update(input).digest('hex')}`;
}

/**
 * Checks a line's `mac` against the chain; returns the record's JSON without it, or the problem.
 */
function unchain(
  line: string,
  previous: string,
  key: JournalKey | undefined,
): { body: string; mac: string } | string {
  const tail = MAC_TAIL.exec(line);
  if (!tail) return 'has no integrity mac (not written by this version of regprune, or edited)';
  const mac = tail[1] as string;
  const body = `${line.slice(0, tail.index)}}`;
  const keyed = mac.startsWith('hmac-');
  if (keyed && key === undefined)
    return 'is keyed with a journal key (hmac-sha256): pass the same key (journalKey; REGPRUNE_JOURNAL_KEY for the CLI)';
  if (!keyed && key !== undefined)
    return 'is not keyed, but a journal key was given: it was not written with this key (or was forged without it)';
  if (macOf(previous, body, key) === mac) return { body, mac };
  if (previous === '')
    return keyed
      ? 'does not match the journal key (a wrong key, or the line was edited)'
      : 'does not match its content (the line was edited)';
  return keyed
    ? 'does not follow from the line before with this journal key (a line was edited, inserted or removed, or the key is wrong)'
    : 'does not follow from the line before (a line was edited, inserted or removed)';
}

/**
 * The registry a journal names, compared the way {@link RegistryClient} spells its `url`: scheme
 * and host in lower case, no default port, no trailing slash.
 */
export function normalizeRegistry(text: string): string {
  try {
    const url = new URL(text);
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return text;
  }
}

/** Digest of the operations of a plan (what a journal belongs to). */
export function planDigest(plan: CleanupPlan): string {
  const ops = {
    untag: plan.untag.map((op) => [op.tag, op.image]),
    delete: plan.delete.map((op) => [op.image, op.wave]),
  };
  return digestOf(new TextEncoder().encode(JSON.stringify(ops)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates one parsed line; returns a problem or the record. */
function checkRecord(value: unknown): JournalRecord | string {
  if (!isObject(value)) return 'not a JSON object';
  if (value.type === 'run') {
    if (value.format !== JOURNAL_FORMAT) return `unknown format ${JSON.stringify(value.format)}`;
    if (typeof value.plan !== 'string' || !isDigest(value.plan)) return 'run without a plan digest';
    if (typeof value.registry !== 'string') return 'run without a registry';
    return value as unknown as JournalRun;
  }
  if (value.type === 'end') {
    if (!Number.isSafeInteger(value.seq)) return 'end without seq';
    if (value.status !== 'done' && value.status !== 'failed') return 'end with an unknown status';
    return value as unknown as JournalEnd;
  }
  if (value.type !== 'intent') return `unknown record type ${JSON.stringify(value.type)}`;
  const { seq, action, id, repository, digest, mediaType, manifest, tags, replacement } = value;
  if (!Number.isSafeInteger(seq)) return 'intent without seq';
  if (action !== 'delete' && action !== 'untag' && action !== 'rewrite')
    return `intent with unknown action ${JSON.stringify(action)}`;
  if (typeof id !== 'string') return 'intent without id';
  if (typeof repository !== 'string' || !isRepositoryName(repository))
    return `intent with invalid repository ${JSON.stringify(repository)}`;
  if (typeof digest !== 'string' || !isDigest(digest))
    return `intent with invalid digest ${JSON.stringify(digest)}`;
  if (typeof mediaType !== 'string' || mediaType === '') return 'intent without mediaType';
  if (typeof manifest !== 'string') return 'intent without manifest bytes';
  if (digestOf(Buffer.from(manifest, 'base64'), digest) !== digest)
    return `the manifest bytes of ${repository}@${digest} do not hash to its digest`;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && isTag(t)))
    return `intent for ${repository}@${digest} with invalid tags`;
  if (replacement !== undefined && (typeof replacement !== 'string' || !isDigest(replacement)))
    return 'intent with an invalid replacement digest';
  return value as unknown as JournalIntent;
}

/**
 * Reads a journal. A last line without its newline is a write cut short by a crash and is ignored:
 * an intent cut short was never fsynced, so its request was never sent; an end cut short leaves its
 * intent without an end, which a resumed run checks against the registry. Every complete line must
 * carry a `mac` chained to the line before (keyed with `options.key` when the journal was).
 * @returns `undefined` when the file does not exist.
 * @throws {JournalError} when a complete line is not a valid record or breaks the chain.
 */
export async function readJournal(
  path: string,
  options: JournalIntegrity = {},
): Promise<JournalState | undefined> {
  checkKey(options.key);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new JournalError(path, `cannot be read (${(error as Error).message})`, { cause: error });
  }
  const completeBytes = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.subarray(0, completeBytes).toString('utf8').split('\n');
  lines.pop(); // '' after the last newline
  const state: JournalState = {
    runs: [],
    intents: [],
    ends: new Map(),
    runOf: new Map(),
    endRunOf: new Map(),
    lastSeq: 0,
    completeBytes,
    lastMac: '',
  };
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new JournalError(path, `line ${index + 1} is not JSON; the file is damaged`);
    }
    const chained = unchain(line, state.lastMac, options.key);
    if (typeof chained === 'string')
      throw new JournalError(path, `line ${index + 1}: the record ${chained}; refused`);
    state.lastMac = chained.mac;
    if (isObject(parsed)) delete parsed.mac;
    const record = checkRecord(parsed);
    if (typeof record === 'string')
      throw new JournalError(path, `line ${index + 1}: ${record}; the file is damaged`);
    if (record.type === 'run') state.runs.push(record);
    else if (record.type === 'intent') {
      state.intents.push(record);
      state.runOf.set(record.seq, state.runs.length - 1);
      state.lastSeq = Math.max(state.lastSeq, record.seq);
    } else {
      state.ends.set(record.seq, record.status);
      state.endRunOf.set(record.seq, state.runs.length - 1);
    }
  });
  return state;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Appends records durably. Concurrent appends are group-committed: one write and one fsync for
 * every line queued while the previous fsync ran, so journaling costs about one fsync per burst.
 */
export class JournalWriter {
  readonly path: string;
  readonly #file: FileHandle;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #seq: number;
  #lastMac: string;
  readonly #key: JournalKey | undefined;

  private constructor(
    path: string,
    file: FileHandle,
    existing: JournalState | undefined,
    key: JournalKey | undefined,
  ) {
    this.path = path;
    this.#file = file;
    this.#seq = existing?.lastSeq ?? 0;
    this.#lastMac = existing?.lastMac ?? '';
    this.#key = key;
  }

  /**
   * Opens (creating it and fsyncing its directory when new) for appending. `existing` is what
   * {@link readJournal} found there: an unfinished last line is cut off first, or the next record
   * would be glued to it and the journal would no longer read. Records chain on from the last
   * one, keyed with `options.key` (which must be the key `existing` was read with).
   */
  static async open(
    path: string,
    existing: JournalState | undefined,
    options: JournalIntegrity = {},
  ): Promise<JournalWriter> {
    checkKey(options.key);
    let file: FileHandle | undefined;
    try {
      file = await open(path, 'a', 0o600);
      if (existing === undefined) {
        await syncDirectory(dirname(path));
      } else if ((await file.stat()).size > existing.completeBytes) {
        await file.truncate(existing.completeBytes);
        await file.sync();
      }
    } catch (error) {
      await file?.close().catch(() => {});
      throw new JournalError(path, `cannot be opened for appending (${(error as Error).message})`, {
        cause: error,
      });
    }
    return new JournalWriter(path, file, existing, options.key);
  }

  /** The next operation number. */
  nextSeq(): number {
    this.#seq += 1;
    return this.#seq;
  }

  /** Resolves once the record is written and fsynced. */
  append(record: JournalRecord): Promise<void> {
    // Chained in call order, which is the order the lines are written in.
    const body = JSON.stringify(record);
    const mac = macOf(this.#lastMac, body, this.#key);
    this.#lastMac = mac;
    const line = `${body.slice(0, -1)},"mac":"${mac}"}\n`;
    return new Promise((resolve, reject) => {
      this.#pending.push({ line, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.#file.appendFile(batch.map((p) => p.line).join(''));
        await this.#file.sync();
        for (const p of batch) p.resolve();
      } catch (error) {
        const failure = new JournalError(
          this.path,
          `write failed (${(error as Error).message}); stopped before the next destructive request`,
          { cause: error },
        );
        for (const p of batch) p.reject(failure);
      }
    }
    this.#flushing = undefined;
  }

  async close(): Promise<void> {
    await this.#flushing;
    await this.#file.close();
  }
}
