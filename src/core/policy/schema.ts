/**
 * JSON Schema (draft 2020-12) of a retention policy, for editors (`$schema`, YAML language
 * servers). It describes the shape; `validatePolicy` also checks what a schema cannot say well
 * (that regexes compile, that a rule keeps something, that `groupBy` comes with `keepNewest`).
 */

const tagPatterns = {
  type: 'array',
  items: {
    type: 'string',
    minLength: 1,
    description: 'A glob over the bare tag name (* any run, ? one character) or a /regex/flags.',
  },
} as const;

const duration = {
  type: 'string',
  pattern: '^(?:\\d+[smhdw])+$',
  description: 'A duration: s, m (minutes), h, d, w; e.g. "30d", "1w3d".',
} as const;

/** The JSON Schema of {@link RetentionPolicy}, as a plain object (serialise it with `JSON.stringify`). */
export const retentionPolicySchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'regprune retention policy',
  description:
    'A tag is kept if any rule keeps it. Repositories no rule matches are out of scope. Untagged images are deleted unless untagged.keepYoungerThan or untagged.keepNewest keeps them.',
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: {
    $schema: { type: 'string' },
    age: {
      enum: ['created', 'pushed'],
      description:
        'Which time ages are measured from (keepNewest by created, keepYoungerThan, untagged): created (default, the build date in the image config) or pushed (when the registry received the image: storage revision link time, first run that saw it in a state file, or a platform API). An image lacking it uses the other one, with a plan warning.',
    },
    rules: {
      type: 'array',
      minItems: 1,
      items: { $ref: '#/$defs/rule' },
      description: 'A tag is kept if any rule keeps it.',
    },
    protect: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tags: {
          ...tagPatterns,
          description:
            'Tags never untagged or deleted. A literal name must name a tag in policy scope, or planning fails.',
        },
        images: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          description: 'Image ids (repo@sha256:…) or digests (sha256:…) never deleted.',
        },
      },
    },
    untagged: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keepYoungerThan: {
          ...duration,
          description:
            'Grace period for untagged images, by created date. Without it (or keepNewest), untagged images are deleted.',
        },
        keepNewest: {
          type: 'integer',
          minimum: 1,
          description:
            'Keep the N newest untagged images of each repository, by created date (unknown dates oldest). Keeps on its own beside keepYoungerThan; platform manifests follow their index.',
        },
      },
    },
    referrers: {
      description:
        '"follow-subject" (default), or artifactType patterns of referrers to delete even when their subject stays.',
      oneOf: [
        { const: 'follow-subject' },
        { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      ],
    },
    maxDeletions: {
      type: 'integer',
      minimum: 0,
      description: 'Refuse the plan if it deletes more images than this.',
    },
    maxDeletionRatio: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      description: 'Refuse the plan if it deletes more than this fraction of the images in scope.',
    },
  },
  $defs: {
    rule: {
      type: 'object',
      additionalProperties: false,
      anyOf: [
        { required: ['keepTags'] },
        { required: ['keepNewest'] },
        { required: ['keepYoungerThan'] },
        { required: ['dropTags'] },
      ],
      dependentSchemas: {
        dropTags: {
          not: {
            anyOf: [
              { required: ['keepTags'] },
              { required: ['keepNewest'] },
              { required: ['keepYoungerThan'] },
            ],
          },
        },
      },
      properties: {
        description: { type: 'string' },
        repositories: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'string',
            minLength: 1,
            pattern: '^[a-z0-9._/*?-]+$',
          },
          description: 'Repository globs: * and ? within a segment, ** across segments.',
        },
        tags: {
          ...tagPatterns,
          minItems: 1,
          description: 'Which tags this rule looks at (select, then count).',
        },
        keepTags: {
          ...tagPatterns,
          description:
            'Keep tags matching any of these. A literal name (no * or ?, not a /regex/) must name a tag this rule selects, or planning fails; write a tag that may not exist yet as a pattern, e.g. /^stable$/.',
        },
        dropTags: {
          ...tagPatterns,
          minItems: 1,
          description:
            "Keep every selected tag except those matching one of these (the policy form of --drop); a dropped tag's image stays when another tag or a kept index needs it. Not combined with keepTags, keepNewest or keepYoungerThan in one rule. A literal name must name a tag this rule selects, or planning fails.",
        },
        keepNewest: {
          type: 'integer',
          minimum: 1,
          description:
            'Keep the selected tags of the N newest images per repository (per group with groupBy); an image ranks by its best selected tag and uses one slot however many tags it carries.',
        },
        groupBy: {
          type: 'string',
          minLength: 1,
          // At least one capture group: "(" not starting "(?", or a named group "(?<name>".
          pattern: '(?:^|[^\\\\])\\((?:[^?]|\\?<[A-Za-z])',
          description:
            'Regex over the tag name with at least one capture group; keepNewest counts per value of its capture groups, e.g. ^(.*)-\\d+$ per branch.',
        },
        orderBy: {
          enum: ['created', 'semver', 'name'],
          description:
            'Order for keepNewest (default created); newest is the end of the order. Under semver, tags that are not versions rank oldest; under created, unknown dates rank oldest.',
        },
        keepYoungerThan: {
          ...duration,
          description: 'Keep tags whose image is younger than this.',
        },
      },
    },
  },
} as const;
