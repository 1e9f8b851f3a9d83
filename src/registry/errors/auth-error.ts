import { RegistryResponseError } from './registry-response-error.js';

/**
 * The registry or its token service refused access, or a host other than the registry (a
 * redirect target) answered 401 — a challenge regprune never takes up. `scope` names what was
 * asked for (e.g. `repository:app:delete`). Never holds credentials. Not `retryable`: the same
 * credentials get the same answer.
 */
export class AuthError extends RegistryResponseError {
  declare readonly code: 'AUTH';
  readonly scope: string | undefined;
  readonly url: string;

  /** @param advice What to do; default: check the credentials and the account's rights. */
  constructor(
    status: number,
    url: string,
    scope: string | undefined,
    detail = '',
    advice?: string,
  ) {
    super(
      'AUTH',
      `access refused (HTTP ${status}) for ${url}${scope ? ` — scope ${scope} was not granted` : ''}${detail ? `: ${detail}` : ''}; ${advice ?? `check the credentials and that the account may ${scope ? `use ${scope}` : 'use this registry'}`}`,
      status,
      false,
    );
    this.scope = scope;
    this.url = url;
  }
}
