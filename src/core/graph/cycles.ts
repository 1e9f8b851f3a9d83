import type { AdjacencyLists } from '../adjacency.js';
import { InvalidEdgeError } from '../errors/invalid-edge-error.js';

/**
 * Cycle detection over the packed image edges (`target * 4 + kind`): one search per edge while a
 * graph is built edge by edge, one pass over all edges when a whole graph is loaded at once.
 */

/** A path of slots from `start` to `goal` over outgoing edges, or undefined. */
export function pathBetween(
  out: AdjacencyLists,
  start: number,
  goal: number,
): number[] | undefined {
  const prev = new Map<number, number>([[start, -1]]);
  const stack = [start];
  while (stack.length > 0) {
    const slot = stack.pop() as number;
    if (slot === goal) {
      const path: number[] = [];
      for (let s = slot; s !== -1; s = prev.get(s) as number) path.push(s);
      return path.reverse();
    }
    for (const packed of out.values(slot)) {
      const next = Math.floor(packed / 4);
      if (!prev.has(next)) {
        prev.set(next, slot);
        stack.push(next);
      }
    }
  }
  return undefined;
}

/**
 * Kahn's algorithm over all image edges of slots `0 … ids.length - 1`.
 * @throws {InvalidEdgeError} `CYCLE`, naming the ids of one cycle, when there is one.
 */
export function assertAcyclic(out: AdjacencyLists, ids: readonly (string | undefined)[]): void {
  const n = ids.length;
  const { head, next, value } = out;
  const indeg = new Int32Array(n);
  for (let s = 0; s < n; s++)
    for (let e = head[s] as number; e !== -1; e = next[e] as number) {
      const t = Math.floor((value[e] as number) / 4);
      indeg[t] = (indeg[t] as number) + 1;
    }
  const queue: number[] = [];
  for (let s = 0; s < n; s++) if (indeg[s] === 0) queue.push(s);
  let seen = 0;
  while (queue.length > 0) {
    const s = queue.pop() as number;
    seen++;
    for (let e = head[s] as number; e !== -1; e = next[e] as number) {
      const t = Math.floor((value[e] as number) / 4);
      indeg[t] = (indeg[t] as number) - 1;
      if (indeg[t] === 0) queue.push(t);
    }
  }
  if (seen === n) return;
  // Every slot left with indegree > 0 lies on or behind a cycle; walk forward until one repeats.
  let s = indeg.findIndex((d) => d > 0);
  const order: number[] = [];
  const at = new Map<number, number>();
  while (!at.has(s)) {
    at.set(s, order.length);
    order.push(s);
    const forward = out
      .values(s)
      .map((p) => Math.floor(p / 4))
      .find((t) => (indeg[t] as number) > 0);
    s = forward as number;
  }
  const cycle = [...order.slice(at.get(s)), s].map((x) => ids[x] as string);
  throw new InvalidEdgeError('CYCLE', cycle, `the edges form a cycle: ${cycle.join(' → ')}`);
}
