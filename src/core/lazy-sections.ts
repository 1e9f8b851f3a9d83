/**
 * Plan sections that are built on first read. A plan of a million images holds millions of small
 * objects (a keep path per kept image, a decision per tag); deciding the plan needs none of them,
 * and most callers read only some sections (an adapter reads `untag` and `delete`, never `keep`).
 * A section is an ordinary enumerable property: reading it, `JSON.stringify`, spreading and
 * `structuredClone` all see the same array, built once and then kept; assigning replaces it.
 * Builders read only data captured when the plan was made, so later changes to the graph do not
 * reach a section built afterwards.
 */

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Turns `key` of `target` into a section built by `build` on first read. The property keeps its
 * position among the object's keys (so JSON output keeps its field order).
 * @internal
 */
export function defineLazySection<T extends object, K extends keyof T & string>(
  target: T,
  key: K,
  build: () => T[K],
): void {
  let value: T[K] | undefined;
  let builder: (() => T[K]) | undefined = build;
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get(): T[K] {
      if (builder) {
        value = builder();
        builder = undefined; // let the captured arrays go
      }
      return value as T[K];
    },
    set(next: T[K]) {
      builder = undefined;
      value = next;
    },
  });
  if (!Object.hasOwn(target, INSPECT)) {
    // Node's console.log would print `[Getter/Setter]` for every section; show the plan instead.
    Object.defineProperty(target, INSPECT, {
      enumerable: false,
      configurable: true,
      value(
        this: T,
        _depth: number,
        options: object,
        inspect: (value: unknown, options: object) => string,
      ): string {
        return inspect({ ...this }, options);
      },
    });
  }
}
