import { z } from 'zod';
import { plainText } from './text.ts';
import { displayName } from './names.ts';

/** Environment-local data: never promoted, never overwritten by a promotion. */
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,99}$/;

export const VariableOverrideBody = z.strictObject({ value: plainText().max(10_000) });
export const SecretBody = z.strictObject({
  value: z.string().min(1, 'A secret cannot be empty.').max(65_536),
});
export const RuntimeKeyBody = z.strictObject({ name: displayName(100) });

export const EnvironmentSettings = z.strictObject({
  guardrails: z.strictObject({
    blockedTopics: z.array(plainText().trim().min(1).max(100)).max(100),
    maxResponseChars: z.number().int().min(50).max(20_000),
    redactPii: z.boolean(),
    escalateBelowConfidence: z.number().min(0).max(1),
  }),
  evaluators: z
    .array(
      z.strictObject({
        name: displayName(100),
        kind: z.enum(['llm_judge', 'keyword', 'regex']),
        criterion: plainText().max(2000),
        threshold: z.number().min(0).max(1),
        enabled: z.boolean(),
      }),
    )
    .max(50),
});
export type EnvironmentSettings = z.infer<typeof EnvironmentSettings>;

export const DEFAULT_SETTINGS: EnvironmentSettings = {
  guardrails: {
    blockedTopics: [],
    maxResponseChars: 2000,
    redactPii: true,
    escalateBelowConfidence: 0.4,
  },
  evaluators: [],
};

export const ShareLinkBody = z.strictObject({
  label: displayName(100, 'A label is required (who is it for?).'),
  expiresInDays: z.number().int().min(1).max(90).default(14),
  snapshotId: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  allowFeedback: z.boolean().default(false),
});
export const FeedbackBody = z.strictObject({
  section: z.enum(['agents', 'workflows', 'knowledge', 'integrations', 'channels', 'variables']),
  itemId: plainText().min(1).max(64),
  author: displayName(100),
  text: plainText().trim().min(1).max(2000),
});
/** A team member's reply to feedback. */
export const FeedbackReplyBody = z.strictObject({
  text: plainText().trim().min(1, 'Write a reply first.').max(2000),
});
export const FeedbackResolveBody = z.strictObject({ resolved: z.boolean() });

/** What an audience rule can test about a user (the runtime supplies these per conversation). */
export const AUDIENCE_ATTRIBUTES = [
  'department',
  'country',
  'language',
  'role',
  'email_domain',
] as const;
export const AudienceRule = z.strictObject({
  attribute: z.enum(AUDIENCE_ATTRIBUTES),
  operator: z.enum(['is', 'is_not']),
  values: z.array(plainText().trim().min(1).max(100)).min(1).max(100),
});
export type AudienceRule = z.infer<typeof AudienceRule>;
/** A user is in the audience when every rule holds (no rules: everyone). */
export const AudienceBody = z.strictObject({
  name: plainText().trim().min(1, 'An audience needs a name.').max(80),
  description: plainText().trim().max(300).default(''),
  rules: z.array(AudienceRule).max(20).default([]),
});
export type AudienceBody = z.infer<typeof AudienceBody>;
