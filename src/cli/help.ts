import type { CommandName } from './errors.js';
import { optionsHelp } from './options.js';

const TARGET = `<target>  a registry: https://host[:port], http://host[:port], or host[:port]
            (HTTPS, except localhost and 127.x.x.x, which use HTTP);
            or an OCI image layout: oci:DIR`;

const AUTH = `Credentials (registries): --username NAME with --password-stdin, or the
environment variables REGPRUNE_USERNAME and REGPRUNE_PASSWORD, or Docker's config
($DOCKER_CONFIG/config.json or ~/.docker/config.json, credential helpers included).
A plain --password is refused: command lines are visible to other users and kept in
shell history. On ghcr.io (or with --platform ghcr) GITHUB_TOKEN is used too.`;

/** The command's options, generated from the option table (credentials apart). */
function options(command: CommandName): string {
  return `Options:\n${optionsHelp(command, ['basis', 'select', 'apply', 'output'])}`;
}

/** The credentials paragraph and the credential options. */
function auth(command: CommandName): string {
  return `${AUTH}\n${optionsHelp(command, ['auth'])}`;
}

const HELP: Record<CommandName | 'main', string> = {
  main: `regprune — plan and perform safe cleanup of container images in OCI registries
and OCI image layouts: keep what a kept tag reaches, delete the rest, dependents first.

Usage:
  regprune plan    <target> (--policy FILE | --keep TAG... | --drop TAG...) [options]
  regprune apply   <target> (--policy FILE | --keep TAG... | --drop TAG... | --plan FILE) [--dry-run] [--yes] [options]
  regprune explain <target> <ref> (--policy FILE | --keep TAG... | --drop TAG...) [options]
  regprune graph   <target> [--policy FILE | --keep TAG...] [--format mermaid|dot|json]
  regprune restore <registry> --journal FILE [--format table|json]
  regprune verify  <registry> [--repo GLOB...] [--format table|json|markdown]
  regprune <command> --help
  regprune --version

${TARGET}

Exit codes:
  0  done
  1  error (the message says what failed and what to do)
  2  usage error (the message names the bad argument; the command's help follows)
  3  the plan was refused by a safety cap of the policy; nothing was applied
  4  partly applied: some operations failed or were skipped (restore: some tags
     were moved since the cleanup and left alone)
  130  apply stopped by Ctrl-C: what was in flight finished; run the same command
     again to continue
`,
  plan: `Usage: regprune plan <target> (--policy FILE | --keep TAG... | --drop TAG...) [options]

Loads the target's image graph and prints what a cleanup would do: tags to remove,
images to delete (in a safe order), why every other image stays, reclaimable bytes.
Changes nothing.

${TARGET}

${options('plan')}

${auth('plan')}

Exit code 3 when a safety cap of the policy (maxDeletions, maxDeletionRatio)
refuses the plan.

Examples:
  regprune plan oci:./layout --keep latest --keep v1.2.0
  regprune plan registry.example.com --repo 'team/**' --policy policy.yaml
  regprune plan http://127.0.0.1:5000 --policy policy.yaml --format json > plan.json
`,
  apply: `Usage: regprune apply <target> (--policy FILE | --keep TAG... | --drop TAG... | --plan FILE) [options]

Plans as 'regprune plan' does, prints the plan, then carries it out: untags, then
deletes, dependents first, re-checking each repository's tags just before deleting
(a tag pushed since the plan saves what it reaches). On a terminal it asks first;
without one it needs --yes.

${TARGET}

${options('apply')}

${auth('apply')}

Registries free storage only when their own garbage collection runs afterwards
(e.g. docker-registry garbage-collect, without --delete-untagged on 2.8).

Ctrl-C stops starting operations, lets those in flight finish, prints the result
and the command to continue, and exits 130; a second Ctrl-C exits at once (the
journal stays consistent).

Exit codes: 0 done, 1 error, 2 usage, 3 refused by a safety cap (nothing applied),
4 partly applied (some operations failed or were skipped), 130 stopped by Ctrl-C.

Examples:
  regprune apply oci:./layout --keep latest --dry-run
  regprune apply registry.example.com --policy policy.yaml --yes --format markdown
  regprune apply registry.example.com --plan plan.json --plan-sha256 "$(sha256sum plan.json | cut -c1-64)" --yes
`,
  explain: `Usage: regprune explain <target> <ref> (--policy FILE | --keep TAG... | --drop TAG...) [options]

Says why an image or tag is kept, untagged or deleted under the plan: the policy rule
that kept a tag, or the path from a kept tag that reaches an image.

${TARGET}
<ref>     a tag (registry: repo:tag; layout: the tag name), an image id
          (registry: repo@sha256:...; layout: @sha256:...), a digest sha256:...,
          or a unique prefix of one (at least 6 hex digits)

${options('explain')}

${auth('explain')}

Examples:
  regprune explain oci:./layout v1.0.0 --policy policy.yaml
  regprune explain registry.example.com team/app@sha256:4f1c... --keep team/app:latest
`,
  graph: `Usage: regprune graph <target> [--policy FILE | --keep TAG...] [options]

Prints the image graph: images with their tags, and edges labelled by kind
(parent: built on; child: an index's platform manifest; referrer: a signature,
SBOM or attestation attached to its subject). With --policy or --keep, images are
styled by the plan: kept, untagged (stays but loses a tag), deleted.

${TARGET}

${options('graph')}

${auth('graph')}

Examples:
  regprune graph oci:./layout --policy policy.yaml > graph.mmd
  regprune graph http://127.0.0.1:5000 --keep app:latest --format dot | dot -Tsvg > g.svg
`,
  restore: `Usage: regprune restore <registry> --journal FILE [options]

Undoes a 'regprune apply <registry> --journal FILE': pushes every manifest the
journal recorded back by digest (children before their index, subjects before
their referrers) and points every journaled tag at its old digest again. A tag
that someone moved since the cleanup is left alone and reported as a conflict.
Running it twice is harmless: the second run finds everything present.

The journal holds manifests, not blobs: restore works only until the registry's
garbage collection removes the blobs the deleted manifests needed. It checks that
every blob and child manifest is still there before it pushes anything; when one
is gone it changes nothing and names it (exit 1). There is no --dry-run.

<registry>  https://host[:port], http://host[:port], or host[:port] (HTTPS, except
            localhost and 127.x.x.x, which use HTTP). OCI layouts keep no journal:
            apply rewrites them atomically.

${options('restore')}

${auth('restore')}

The registry needs pull and push on the journal's repositories. A journal written
with REGPRUNE_JOURNAL_KEY set needs the same key to be restored.

Exit codes: 0 done, 1 error (journal missing, damaged, edited or of another
registry, content gone, registry error), 2 usage, 4 partly restored (some tags were moved since and left alone).

Examples:
  regprune apply registry.example.com --policy policy.yaml --yes --journal undo.jsonl
  regprune restore registry.example.com --journal undo.jsonl
  regprune restore http://127.0.0.1:5000 --journal undo.jsonl --format json
`,
  verify: `Usage: regprune verify <registry> [--repo GLOB...] [options]

Checks that every tag pulls completely: its manifest, every index child (nested
too), every config and layer blob, and the subject of every signature, SBOM or
other referrer. Reads only. Reports dangling tags (listed, but 404), indexes
missing a child, missing blobs and referrers whose subject is gone.

<registry>  https://host[:port], http://host[:port], or host[:port]

${options('verify')}

${auth('verify')}

Exit codes: 0 every tag pulls completely, 1 something is broken (or an error),
2 usage.

Examples:
  regprune verify registry.example.com --repo 'team/**'
  regprune verify http://127.0.0.1:5000 --format json
`,
};

/** The help text of a command, or the top-level help. */
export function helpText(command?: CommandName): string {
  return HELP[command ?? 'main'];
}
