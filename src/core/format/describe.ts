import type { ImageGraph } from '../image-graph.js';

const KINDS: Record<string, string> = {
  'application/vnd.oci.image.index.v1+json': 'index',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'index',
  'application/vnd.oci.image.manifest.v1+json': 'manifest',
  'application/vnd.docker.distribution.manifest.v2+json': 'manifest',
  'application/vnd.oci.artifact.manifest.v1+json': 'artifact',
};

/** Friendly names of common referrer artifact types (matched as prefixes or substrings). */
const ARTIFACTS: Array<[RegExp, string]> = [
  [/cosign\.artifact\.sig|\.sig(nature)?\b|notary/i, 'signature'],
  [/spdx|cyclonedx|sbom|syft/i, 'SBOM'],
  [/in-toto|attestation|provenance|slsa/i, 'attestation'],
];

/** A friendly name for a referrer artifact type: `signature`, `SBOM`, `attestation`, or the type itself. */
export function artifactName(type: string): string {
  return ARTIFACTS.find(([re]) => re.test(type))?.[1] ?? type;
}

/**
 * A short description of an image: `index`, `manifest linux/arm64`, or `referrer: SBOM`
 * (what a person needs to tell rows apart; unknown artifact types are shown as they are).
 */
export function describeImage(
  graph: ImageGraph | undefined,
  id: string,
  mediaType?: string,
): string {
  const info = graph?.hasImage(id) ? graph.imageInfo(id) : undefined;
  const type = info?.mediaType ?? mediaType;
  if (info?.artifactType) return `referrer: ${artifactName(info.artifactType)}`;
  if (graph?.hasImage(id) && graph.targetsOf(id, 'referrer').length > 0) return 'referrer';
  let kind = type ? (KINDS[type] ?? type) : 'image';
  const platform = info?.platform;
  if (platform) {
    kind += ` ${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`;
  }
  return kind;
}
