import { describe, expect, it } from 'vitest';
import { artifactTypeOf, DOCKER_CONFIG, OCI_CONFIG } from '../../src/core/oci/media-types.js';

const SBOM = 'application/spdx+json';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';

describe('artifactTypeOf (the rule both adapters share)', () => {
  it('prefers the declared type, then a pointing descriptor’s, then a non-image config’s', () => {
    expect(artifactTypeOf(SBOM, SIG, SIG)).toBe(SBOM);
    expect(artifactTypeOf(undefined, SIG, SBOM)).toBe(SBOM);
    expect(artifactTypeOf(undefined, SIG)).toBe(SIG);
  });

  it('a plain image (image config, nothing declared) has no artifact type', () => {
    expect(artifactTypeOf(undefined, OCI_CONFIG)).toBeUndefined();
    expect(artifactTypeOf(undefined, DOCKER_CONFIG)).toBeUndefined();
    expect(artifactTypeOf(undefined, undefined)).toBeUndefined();
  });
});
