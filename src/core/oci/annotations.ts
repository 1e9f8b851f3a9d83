/** The annotation names regprune reads (image-spec annotations.md), and the ref-name grammar. */

/** Names a tag in a layout's `index.json`. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** The digest of the image this one was built on: a `parent` edge. */
export const BASE_DIGEST = 'org.opencontainers.image.base.digest';
/** The reference of the image this one was built on (`host/repo:tag`): where to find the base. */
export const BASE_NAME = 'org.opencontainers.image.base.name';
/** A creation date, used when the config has none. */
export const CREATED = 'org.opencontainers.image.created';

// image-layout.md for `org.opencontainers.image.ref.name`:
// ref ::= component ("/" component)*; component ::= alphanum (separator alphanum)*;
// alphanum ::= [A-Za-z0-9]+; separator ::= [-._:@+] | "--".
const REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME_PATTERN = new RegExp(`^${REF_COMPONENT}(?:/${REF_COMPONENT})*$`);

/** Whether `value` is a valid `org.opencontainers.image.ref.name`. */
export function isRefName(value: string): boolean {
  return REF_NAME_PATTERN.test(value);
}

/** What the ref-name grammar allows, for error messages. */
export const REF_NAME_GRAMMAR =
  'components of letters and digits joined by "/", with ".", "_", "-", "--", ":", "@" or "+" inside a component';
