/**
 * Request naming shared by the real run and the dry run (pure: no registry needed), and the
 * placeholder's config digest, now written once.
 */
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/registry/digest.js';
import {
  manifestRequest,
  placeholderConfigRequest,
  tagListRequest,
} from '../../src/registry/requests.js';
import { EMPTY_JSON_DIGEST } from '../../src/registry/untag.js';

describe('request naming', () => {
  it('the placeholder config digest is the digest of the empty JSON {}', () => {
    expect(EMPTY_JSON_DIGEST).toBe(digestOf(new TextEncoder().encode('{}')));
  });

  it('names manifest, tag list and placeholder config requests as outcomes list them', () => {
    expect(manifestRequest('DELETE', 'team/app', 'v1')).toBe('DELETE /v2/team/app/manifests/v1');
    expect(manifestRequest('PUT', 'team/app', 'v1', 'placeholder')).toBe(
      'PUT /v2/team/app/manifests/v1 (placeholder)',
    );
    expect(tagListRequest('team/app')).toBe('GET /v2/team/app/tags/list');
    expect(tagListRequest('team/app', 'once per repository')).toBe(
      'GET /v2/team/app/tags/list (once per repository)',
    );
    expect(placeholderConfigRequest('team/app', EMPTY_JSON_DIGEST)).toBe(
      'HEAD /v2/team/app/blobs/sha256:44136fa…',
    );
  });
});
