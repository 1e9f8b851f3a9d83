/** The CLI's exit codes; scripts and CI jobs branch on them. */
export const EXIT = {
  /** Done (or, for `plan`, a plan that may be applied). */
  ok: 0,
  /** An error: unreachable registry, bad credentials, malformed layout or policy, unknown tag… */
  error: 1,
  /** A usage error: a bad or missing argument. The message names it; the command's help follows. */
  usage: 2,
  /** A safety cap of the policy refused the plan; nothing was applied. */
  refused: 3,
  /** Applied in part: some operations failed or were skipped (e.g. changed since the plan). */
  partial: 4,
  /**
   * `apply` stopped by Ctrl-C (SIGINT): the operations in flight finished, the rest were not
   * started; running the same command again (same `--journal`) continues.
   */
  interrupted: 130,
} as const;

/** One of {@link EXIT}'s values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
