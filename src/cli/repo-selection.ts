import type { ImageGraph } from '../core/image-graph.js';
import { repositoryOfImage, repositoryOfTag } from '../core/naming.js';
import {
  compileRepositoryGlob,
  isRepositoryGlob,
  repositorySelector,
} from '../core/oci/repository-glob.js';
import type { PlanWarning } from '../core/plan-types.js';
import { compareIds } from '../core/sort.js';
import type { PlanningOptions } from './args.js';
import { type CommandName, UsageError } from './errors.js';

/**
 * A predicate: does any `--repo` value select `name`. The registry loader reads the values with
 * the same engine (the core's), so what is planned is what was loaded.
 * @throws {InvalidGlobError} for a glob the grammar refuses ({@link checkRepoGlobs} catches it first).
 */
export function repoMatchers(repos: readonly string[]): (name: string) => boolean {
  return repositorySelector(repos);
}

/**
 * Refuses a `--repo` glob the repository-glob grammar does not define, with the grammar's own
 * words (a policy's `repositories` gets the same), before anything is requested.
 * @throws {UsageError} naming `--repo`.
 */
export function checkRepoGlobs(command: CommandName, repos: readonly string[]): void {
  for (const repo of repos) {
    if (repo === '') throw new UsageError(command, '--repo', 'needs a repository name or glob');
    if (!isRepositoryGlob(repo)) continue;
    const compiled = compileRepositoryGlob(repo);
    if ('problem' in compiled) throw new UsageError(command, '--repo', compiled.problem);
  }
}

/** `--repo` values that select no repository the graph holds (by its tags or its images). */
export function emptyRepoSelections(options: PlanningOptions, graph: ImageGraph): string[] {
  if (options.repos.length === 0) return [];
  const repositories = new Set<string>();
  for (const tag of graph.tags()) repositories.add(repositoryOfTag(tag));
  for (const image of graph.images()) repositories.add(repositoryOfImage(image));
  return options.repos.filter((pattern) => {
    const selects = repoMatchers([pattern]);
    for (const repository of repositories) if (selects(repository)) return false;
    return true;
  });
}

/**
 * A `--keep` tag whose `--repo` values all selected nothing can only be unknown; the cause is the
 * selection (a misspelt repository or a registry without it), so the error names `--repo`.
 * (Tags outside every `--repo` value are refused while parsing the command line.)
 */
export function checkKeepAgainstEmptyRepos(
  options: PlanningOptions,
  empty: readonly string[],
): void {
  if (empty.length === 0) return;
  const selectedElsewhere = repoMatchers(options.repos.filter((p) => !empty.includes(p)));
  for (const tag of options.keep) {
    const repository = repositoryOfTag(tag);
    if (selectedElsewhere(repository)) continue;
    const culprits = empty.filter((p) => repoMatchers([p])(repository));
    throw new UsageError(
      options.command,
      '--repo',
      `${culprits.map((p) => `--repo ${JSON.stringify(p)}`).join(', ')} selects no repository of the registry, so --keep ${tag} names nothing that was loaded; check the repository name (and the registry address)`,
    );
  }
}

/** One plan warning per `--repo` value that selected nothing, kept in the plan's warning order. */
export function addRepoWarnings(warnings: PlanWarning[], empty: readonly string[]): void {
  if (empty.length === 0) return;
  for (const pattern of empty) {
    warnings.push({
      code: 'REPO_OPTION_MATCHES_NOTHING',
      id: `--repo ${pattern}`,
      message: `--repo ${JSON.stringify(pattern)} selects no repository of the registry, so nothing there is planned; check the spelling`,
    });
  }
  warnings.sort((a, b) => compareIds(a.id, b.id) || compareIds(a.code, b.code));
}
