/**
 * The dry run's request list, grouped for people: per repository, then per step (untags, dangling
 * tags, each wave of deletions, rewrites), each distinct request once with how often it would be
 * sent. Digests and the operation's own tag names become `<digest>` and `<tag>`, so the 5 request
 * shapes of 20 deletions read as 5 lines, not 100. The JSON result keeps every request as sent.
 */
import { repositoryOfImage, repositoryOfTag } from '../naming.js';
import type { OperationOutcome } from '../target.js';
import { plural } from './text.js';

const DIGEST = /sha256:[0-9a-f]{64}/g;
const PROBE = /\(probe:/;

interface Group {
  title: string;
  operations: number;
  lines: Map<string, number>;
}

function repositoryOf(o: OperationOutcome): string {
  return o.action === 'untag' || o.action === 'rewrite'
    ? repositoryOfTag(o.id)
    : repositoryOfImage(o.id);
}

function regexLiteral(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `request` with the operation's own digest and tag name replaced by placeholders. */
function shape(request: string, o: OperationOutcome, repository: string): string {
  let text = request.replace(DIGEST, (d) => (/^sha256:0+$/.test(d) ? d : '<digest>'));
  if (o.action === 'untag') {
    const tag = o.id.slice(repository.length + 1);
    text = text.replace(new RegExp(`/manifests/${regexLiteral(tag)}\\b`, 'g'), '/manifests/<tag>');
  }
  // "for each of a, b still listed" names the operation's tags.
  return text.replace(/for each of .+? still listed/, 'for each of its tags still listed');
}

/** The lines of the grouped request list, or none when no outcome carries requests. */
export function groupedRequests(outcomes: readonly OperationOutcome[]): string[] {
  const repositories = new Map<string, { once: Map<string, number>; groups: Map<string, Group> }>();
  let requests = 0;
  let operations = 0;
  for (const o of outcomes) {
    if (!o.requests || o.requests.length === 0) continue;
    operations++;
    const repository = repositoryOf(o);
    let repo = repositories.get(repository);
    if (!repo) {
      repo = { once: new Map(), groups: new Map() };
      repositories.set(repository, repo);
    }
    const wave = o.action === 'delete' ? /^wave (\d+)/.exec(o.reason ?? '')?.[1] : undefined;
    const dangling = o.action === 'untag' && /^dangling tag/.test(o.reason ?? '');
    const title = `${dangling ? 'dangling tag' : o.action}${wave !== undefined ? `, wave ${wave}` : ''}`;
    let group = repo.groups.get(title);
    if (!group) {
      group = { title, operations: 0, lines: new Map() };
      repo.groups.set(title, group);
    }
    group.operations++;
    for (const request of o.requests) {
      requests++;
      // The delete probe precedes the first operation but is sent once per repository.
      const probe = PROBE.test(request);
      const target = probe ? repo.once : group.lines;
      const key = probe ? request : shape(request, o, repository);
      target.set(key, (target.get(key) ?? 0) + 1);
    }
  }
  if (requests === 0) return [];
  const out = [
    `Requests it would send (${plural(requests, 'request')} for ${plural(operations, 'operation')}; per repository and step, <digest> and <tag> standing for each operation's own)`,
  ];
  for (const [repository, repo] of repositories) {
    out.push(`  ${repository}`);
    for (const request of repo.once.keys()) out.push(`    once  ${request}`);
    for (const group of repo.groups.values()) {
      out.push(`    ${group.title} ×${group.operations}`);
      for (const [line, count] of group.lines) out.push(`      ×${count}  ${line}`);
    }
  }
  return out;
}
