/** Largest tag list or catalog page regprune reads. */
export const LIST_LIMIT = 32 * 1024 * 1024;
/** Largest token service answer regprune reads. */
export const TOKEN_LIMIT = 1024 * 1024;
/** Largest error body read for its OCI error code. */
export const ERROR_LIMIT = 64 * 1024;
/** Most pages of one paginated list. */
export const MAX_PAGES = 100_000;
/** Default bounds of one paginated list over all its pages ({@link ListLimits}). */
export const LIST_ENTRIES = 1_000_000;
export const LIST_BYTES = 128 * 1024 * 1024;

/** When the attempt that produced a response runs out of time; its body is read by then too. */
export interface Deadline {
  /** `Date.now()` value. */
  at: number;
  /** The client's `timeout`, for messages. */
  ms: number;
}

const deadlines = new WeakMap<Response, Deadline>();

/** Ties a response to the deadline of the attempt that produced it (see {@link readLimited}). */
export function setDeadline(response: Response, deadline: Deadline): void {
  deadlines.set(response, deadline);
}

/** An attempt, body included, ran past the client's `timeout` (retried like a network error). */
export class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms, body included (the timeout option)`);
    this.name = 'TimeoutError';
  }
}

/**
 * Reads a body up to `limit` bytes, before the deadline of the attempt that produced it (so a
 * body dripped byte by byte cannot hold a run); `undefined` when it is longer. Every body the
 * client reads goes through here.
 * @throws {DeadlineExceeded}
 */
export async function readLimited(
  response: Response,
  limit: number,
  deadline: Deadline | undefined = deadlines.get(response),
): Promise<Uint8Array | undefined> {
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  if (length > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  let late = false;
  // Cancelling ends the pending read (done) and closes the connection under it.
  const timer =
    deadline &&
    setTimeout(
      () => {
        late = true;
        reader.cancel().catch(() => undefined);
      },
      Math.max(0, deadline.at - Date.now()),
    );
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (late && deadline) throw new DeadlineExceeded(deadline.ms);
      if (done) return Buffer.concat(chunks);
      total += value.length;
      if (total > limit) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } catch (error) {
    if (late && deadline) throw new DeadlineExceeded(deadline.ms);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
