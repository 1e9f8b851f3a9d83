/** `scheme://userinfo@`: everything between `//` and the last `@` before the path. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]*@/gi;
/**
 * `user:password@host` or `token@host` written without a scheme, at the start of a word. Not when
 * what follows `@` is a digest (`app:v1@sha256:…`): that is an image reference, not a login. A
 * port (`@host:5000`) is told from a digest by being at most five digits.
 */
const BARE_USERINFO =
  /(^|[\s"'(<[=,`])[^\s/?#"'<>`]+@(?![a-z0-9]+(?:[+._-][a-z0-9]+)*:(?!\d{1,5}(?![\w=-]))[\w=-])/gi;

/**
 * `text` with the user information of every URL or `user:password@host` in it replaced by `***`:
 * `https://ci:S3cret@host/x` becomes `https://***@host/x`. Every message regprune makes passes
 * through it, so a credential written into a URL is never printed.
 */
export function redactCredentials(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(URL_USERINFO, '$1***@').replace(BARE_USERINFO, '$1***@');
}
