import { z } from 'zod';
import { plainText } from './text.ts';
import { PRESET_IDS, DEFAULT_PRESET, ENVIRONMENT_KINDS } from './presets.ts';
import { ROLES, TEMPLATES, type TemplateId } from './permissions.ts';
import { SECTIONS, type Section } from './content/spec.ts';
import { isItemId } from './content/ids.ts';
import { flowTemplateProblems, type FlowTemplate } from './flow.ts';
import { EMAIL_MAX, isEmailAddress } from './email.ts';
import { displayName, lookAlikes, nameKey, sameNameMessage } from './names.ts';
import { WEBHOOK_EVENTS } from './api/webhooks.ts';

/** HTTP request bodies, validated at the edge before anything touches state. */
// A scanner, length first, rather than z.email(): its pattern backtracks on long hostile input.
const email = z
  .string()
  .max(EMAIL_MAX, { abort: true })
  .refine(isEmailAddress, 'Enter an email address.')
  .transform((e) => e.toLowerCase());
const password = z.string().min(8, 'Use at least 8 characters.').max(1024);
const name = displayName(100);

export const SetupBody = z.strictObject({ email, password, name });
export const SessionBody = z.strictObject({ email, password: z.string().min(1).max(1024) });
/** `expiresInDays` absent: the token lasts until revoked. */
export const TokenBody = z.strictObject({
  name,
  expiresInDays: z.number().int('Whole days.').min(1).max(3650).optional(),
});
/** One stage of a custom pipeline. */
export const StageBody = z.strictObject({
  name: displayName(40, 'Every stage needs a name.'),
  kind: z.enum(ENVIRONMENT_KINDS),
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'A color is #rrggbb.'),
});
/** A project admin renames or recolors a stage (or changes its kind); position and content never change this way. */
export const StagePatchBody = z
  .strictObject({
    name: StageBody.shape.name.optional(),
    kind: StageBody.shape.kind.optional(),
    color: StageBody.shape.color.optional(),
  })
  .refine(
    (b) => b.name !== undefined || b.kind !== undefined || b.color !== undefined,
    'Give a name, kind or color.',
  );

/** A custom pipeline's rule for one section; stages are named as in `stages`. */
export const FlowRuleBody = z.discriminatedUnion('direction', [
  z.strictObject({ direction: z.literal('up') }),
  z.strictObject({ direction: z.literal('local') }),
  z.strictObject({
    direction: z.literal('down'),
    /** The stage whose version wins and flows down into every stage below it. */
    source: plainText().trim().min(1).max(40),
    /** Stages that edit it too (at or below the source); the source always does. */
    editableIn: z.array(plainText().trim().min(1).max(40)).max(8).optional(),
  }),
]);

export type FlowRuleInput = z.infer<typeof FlowRuleBody>;

/** PUT /api/projects/:id/flow-rules: the whole set (missing sections move up). */
export const FlowRulesBody = z.strictObject({
  flowRules: z.partialRecord(z.enum(SECTIONS), FlowRuleBody),
  /** The `flowRulesVersion` the caller saw: a change made since answers 409 rules_moved. */
  expectedVersion: plainText().max(64).optional(),
});

/**
 * A custom pipeline's rules by stage position, or the problems with them (stage names unknown,
 * rules that cannot hold).
 */
export function flowTemplatesOf(
  stages: readonly { name: string }[],
  rules: Partial<Record<Section, z.infer<typeof FlowRuleBody>>>,
): { templates: Partial<Record<Section, FlowTemplate>>; problems: string[] } {
  const problems: string[] = [];
  const position = (name: string) => {
    const i = stages.findIndex((s) => nameKey(s.name) === nameKey(name));
    if (i < 0) problems.push(`There is no stage named “${name}”.`);
    return i;
  };
  const templates: Partial<Record<Section, FlowTemplate>> = {};
  for (const [section, r] of Object.entries(rules) as [Section, z.infer<typeof FlowRuleBody>][]) {
    if (r.direction !== 'down') {
      templates[section] = { direction: r.direction };
      continue;
    }
    const sourcePosition = position(r.source);
    const editablePositions = [...new Set([sourcePosition, ...(r.editableIn ?? []).map(position)])];
    templates[section] = { direction: 'down', sourcePosition, editablePositions };
  }
  if (problems.length === 0) problems.push(...flowTemplateProblems(templates, stages.length));
  return { templates, problems };
}

export const CreateProjectBody = z
  .strictObject({
    name,
    /** A preset, or `custom` with `stages`. */
    preset: z.enum([...PRESET_IDS, 'custom']).default(DEFAULT_PRESET),
    /** For `custom`: 2 to 8 stages in order; the first is the authoring one, the last is production. */
    stages: z
      .array(StageBody)
      .min(2, 'A pipeline has at least 2 stages.')
      .max(8, 'A pipeline has at most 8 stages.')
      .optional(),
    /** For `custom`: how each section moves (missing sections: `up`). */
    flowRules: z.partialRecord(z.enum(SECTIONS), FlowRuleBody).optional(),
    /** Start the draft with the sample customer-support workspace. */
    sample: z.boolean().default(false),
  })
  .superRefine((body, ctx) => {
    if (body.preset === 'custom' && !body.stages)
      ctx.addIssue({
        code: 'custom',
        path: ['stages'],
        message: 'A custom pipeline needs its stages (2 to 8).',
      });
    if (body.preset !== 'custom' && body.stages)
      ctx.addIssue({
        code: 'custom',
        path: ['stages'],
        message: 'Stages are given only with the preset "custom".',
      });
    const stages = body.stages ?? [];
    for (const i of lookAlikes(stages.map((s) => s.name))) {
      ctx.addIssue({
        code: 'custom',
        path: ['stages', i, 'name'],
        message: sameNameMessage(stages[i]!.name),
      });
    }
    if (body.flowRules && body.preset !== 'custom')
      ctx.addIssue({
        code: 'custom',
        path: ['flowRules'],
        message: 'Flow rules are given only with the preset "custom"; a preset has its own.',
      });
    if (body.flowRules && body.stages)
      for (const message of flowTemplatesOf(body.stages, body.flowRules).problems)
        ctx.addIssue({ code: 'custom', path: ['flowRules'], message });
  });

export const ResolveConflictBody = z.strictObject({
  section: z.enum(SECTIONS),
  itemId: plainText().min(1).max(100),
  /** `upstream`: take the version that flowed down; `local`: keep this environment's. */
  take: z.enum(['upstream', 'local']),
});

/** An item id as content uses them (no inherited name like `constructor`: see content/ids.ts). */
const ItemId = z
  .string()
  .refine(isItemId, 'An item id is 1–64 letters, digits, _ or -, and not a reserved name.');

export const PullBody = z.strictObject({
  fromEnvironmentId: plainText().min(1).max(64),
  section: z.enum(SECTIONS),
  itemIds: z.array(ItemId).min(1, 'Choose at least one item.').max(500),
  message: plainText().trim().max(500).optional(),
  /** Take items this environment changed after the source did (the preview's `newerHere`) all the same. */
  confirmOverwrite: z.boolean().optional(),
});

// Release requests: moving snapshots between stages, hotfixes, gates and four-eyes requests.

/** The snapshot the caller saw in the source (a Sync or a request moves it; absent: not checked). */
const expectedSource = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'A snapshot id is 64 hex characters.')
  .optional();

/** A scheduled move's time (SCHED): an ISO date-time with an offset; the route checks it is in the future. */
const scheduleAt = z.iso.datetime({ offset: true }).optional();
export const SyncBody = z.strictObject({
  expectedSourceSnapshotId: expectedSource,
  expectedTargetSnapshotId: z.string().nullable().optional(),
  message: plainText().trim().max(500).optional(),
  confirmUndoHotfix: z.boolean().optional(),
  /** Into production: go ahead although its integrations name secrets production lacks (else 409 secrets_missing). */
  confirmMissingSecrets: z.boolean().optional(),
  /** Schedule it instead (202): an ISO time up to 90 days ahead. */
  at: scheduleAt,
});
export const PublishBody = z.strictObject({
  /** The synced snapshot the caller saw (what would go live); absent: not checked. */
  expectedSourceSnapshotId: expectedSource,
  expectedLiveSnapshotId: z.string().nullable().optional(),
  message: plainText().trim().max(500).optional(),
  confirmUndoHotfix: z.boolean().optional(),
  confirmMissingSecrets: z.boolean().optional(),
  /** Schedule it instead (202): an ISO time up to 90 days ahead. */
  at: scheduleAt,
});
export const RollbackBody = z.strictObject({
  snapshotId: z.string().regex(/^[0-9a-f]{64}$/, 'A snapshot id is 64 hex characters.'),
  pointer: z.enum(['current', 'live']).optional(),
  message: plainText().trim().max(500).optional(),
  confirmUndoHotfix: z.boolean().optional(),
});
export const HotfixPublishBody = z.strictObject({
  message: plainText().trim().max(500).optional(),
  /** Publish inside a freeze window of production (else 409 frozen); recorded in the release. */
  overrideFreeze: z.boolean().optional(),
});
/** Discarding the open hotfix: `message` is the reason, kept in the environment's history. */
export const HotfixDiscardBody = z.strictObject({
  message: plainText().trim().max(500).optional(),
});

/** Freeze windows of an environment (SCHED): at most 50, each ending after it starts. */
export const FreezeBody = z.strictObject({
  windows: z
    .array(
      z
        .strictObject({
          from: z.iso.datetime({ offset: true }),
          to: z.iso.datetime({ offset: true }),
          reason: plainText().trim().max(200).optional(),
        })
        .refine((w) => Date.parse(w.to) > Date.parse(w.from), 'A window ends after it starts.'),
    )
    .max(50),
});

/** A check's name: what a CI job reports and a gate requires. */
export const CheckName = z
  .string()
  .min(1)
  .max(40)
  .regex(
    /^[a-z0-9][a-z0-9._-]*$/,
    'A check name is lowercase letters, digits, ".", "_" and "-", starting with a letter or digit.',
  );
/** The most checks one gate may require. */
export const MAX_REQUIRED_CHECKS = 10;
export const GateBody = z.strictObject({
  requiredApprovals: z.number().int().min(0).max(5),
  allowSelfApproval: z.boolean().default(false),
  requiredChecks: z
    .array(CheckName)
    .max(MAX_REQUIRED_CHECKS)
    .refine((l) => new Set(l).size === l.length, 'Each check is named once.')
    .default([]),
});
/** A CI job's report of one check for one snapshot, on the environment it would move into. */
export const CheckReportBody = z.strictObject({
  snapshotId: z.string().regex(/^[0-9a-f]{64}$/, 'A snapshot id is 64 hex characters.'),
  name: CheckName,
  state: z.enum(['pending', 'success', 'failure']),
  url: plainText()
    .max(2000)
    .url()
    .refine((u) => /^https?:\/\//i.test(u), 'Only http and https links.')
    .optional(),
  summary: plainText().trim().max(1000).optional(),
});
/** `hotfix: true` (production): the request is for the open hotfix, bound to what its draft would freeze to. */
export const RequestBody = z.strictObject({
  expectedSourceSnapshotId: expectedSource,
  message: plainText().trim().max(500).optional(),
  hotfix: z.boolean().optional(),
});
export const DecisionBody = z.strictObject({ comment: plainText().trim().max(2000).optional() });

export const CreateUserBody = z.strictObject({ email, name, password });
const roleList = z.array(z.enum(ROLES)).max(ROLES.length);
export const MemberBody = z.strictObject({
  /** Roles per environment id; the key "*" grants roles in every environment of the project. */
  roles: z.record(z.string().min(1).max(64), roleList),
});
export const InvitationBody = z.strictObject({
  email,
  name,
  projectId: z.string().optional(),
  template: z.enum(Object.keys(TEMPLATES) as [TemplateId, ...TemplateId[]]).optional(),
  roles: z.record(z.string().min(1).max(64), roleList).optional(),
  expiresInDays: z.number().int().min(1).max(30).default(7),
});
export const AcceptInvitationBody = z.strictObject({ password });
/** POST /api/password-reset/:token: the new password. */
export const PasswordResetBody = z.strictObject({ password });

export type SetupInput = z.infer<typeof SetupBody>;
export type CreateProjectInput = z.infer<typeof CreateProjectBody>;

/**
 * Response types: what each route answers, by area. The routes return them with `satisfies`;
 * the web reads them from here.
 */
export type * from './api/projects.ts';
export type * from './api/release.ts';
export type * from './api/local.ts';
export type * from './api/access.ts';
export type * from './api/events.ts';
export type * from './api/notifications.ts';
export type * from './api/webhooks.ts';
export type * from './api/content.ts';

/** POST /api/notifications/read: these (at most 500; others' ids are ignored), or all. */
export const NotificationsReadBody = z.union([
  z.strictObject({ ids: z.array(z.number().int().positive()).min(1).max(500) }),
  z.strictObject({ all: z.literal(true) }),
]);

// Signed webhooks (WH-3): the URL and events an endpoint is created or changed with.

/** A receiver URL: http(s), at most 2048 characters, no credentials (the server also requires https unless WEBHOOK_ALLOW_PRIVATE). */
const webhookUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'An absolute https URL without a user name or password.')
  // As stored and sent (percent-encoded, SEC-43) it is at most 2048 characters too.
  .refine((s) => {
    try {
      return new URL(s).href.length <= 2048;
    } catch {
      return true;
    }
  }, 'A URL of at most 2048 characters once its special characters are percent-encoded.');

/** `["*"]` (every event), or distinct names from WEBHOOK_EVENTS. */
const webhookEventList = z
  .array(z.string().max(64))
  .min(1)
  .max(WEBHOOK_EVENTS.length)
  .refine((a) => new Set(a).size === a.length, 'Each event once.')
  .refine(
    (a) =>
      (a.length === 1 && a[0] === '*') ||
      a.every((e) => (WEBHOOK_EVENTS as readonly string[]).includes(e)),
    `"*" alone, or names from: ${WEBHOOK_EVENTS.join(', ')}.`,
  );

/**
 * An endpoint's description (SEC-43): plain text of at most 500 characters without bidi controls
 * or other control characters (line breaks and tabs aside), which could make the page show its
 * URL or another endpoint's text in another order.
 */
const webhookDescription = z
  .string()
  .trim()
  .max(500)
  .refine(
    (s) => !/[\p{Bidi_Control}\p{Cc}]/u.test(s.replace(/[\n\r\t]/g, '')),
    'A description may not hold characters that change the writing direction, nor control characters.',
  );

export const CreateWebhookBody = z.strictObject({
  url: webhookUrl,
  events: webhookEventList,
  description: webhookDescription.optional(),
});
export const UpdateWebhookBody = z.strictObject({
  url: webhookUrl.optional(),
  events: webhookEventList.optional(),
  description: webhookDescription.optional(),
  enabled: z.boolean().optional(),
});
