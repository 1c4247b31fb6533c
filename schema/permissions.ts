import { isAuthoring } from './pipeline.ts';

/**
 * The one permission matrix: what each role may do in an environment. Every server check
 * and everything the web offers come from `can()`.
 *
 * Roles are granted per environment. The instance admin holds every role everywhere.
 */
export const ROLES = [
  'viewer',
  'editor',
  'promoter',
  'approver',
  'publisher',
  'environment_admin',
  'project_admin',
] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABELS: Readonly<Record<Role, string>> = {
  viewer: 'Viewer — reads the content',
  editor: 'Editor — edits the draft (authoring, or a hotfix in production)',
  promoter: 'Promoter — Syncs out of this environment',
  approver: 'Approver — approves Syncs into this environment',
  publisher: 'Publisher — Publishes, rolls back and hotfixes production',
  environment_admin: 'Environment admin — variable values, secrets, keys, share links, guardrails',
  project_admin: 'Project admin — members and gates',
};

export const ACTIONS = {
  /** Read this environment's content, history, diffs; connect read-only. */
  'content.read': [
    'viewer',
    'editor',
    'promoter',
    'approver',
    'publisher',
    'environment_admin',
    'project_admin',
  ],
  /** Change a draft: the authoring environment's, or a hotfix in production. */
  'content.edit': ['editor'],
  /** Sync out of this environment (and request it). */
  'env.sync': ['promoter'],
  /** Approve or reject a Sync INTO this environment (or a Publish, in production). */
  'env.approve': ['approver'],
  /** Publish, roll back, start and publish a hotfix (production); roll back (other stages). */
  'env.publish': ['publisher'],
  'env.rollback': ['publisher', 'promoter'],
  /** Environment-local data: variable values, secrets, runtime keys, share links, guardrails/evaluators. */
  'env.admin': ['environment_admin'],
  /** Members, roles and gates of the project. */
  'project.admin': ['project_admin'],
} as const satisfies Record<string, readonly Role[]>;
export type Action = keyof typeof ACTIONS;

/** What each action lets a person do, in words, followed by an environment's name: a person never sees an action id. */
export const ACTION_WORDS: Readonly<Record<Action, string>> = {
  'content.read': 'read the content of',
  'content.edit': 'edit the draft of',
  'env.sync': 'Sync out of',
  'env.approve': 'approve moves into',
  'env.publish': 'Publish or hotfix',
  'env.rollback': 'roll back',
  'env.admin': 'manage the secrets, keys, values and share links of',
  'project.admin': 'manage members and gates in',
};

/** Who can grant a role, by name: "a project admin (Ada Admin)", "a project admin (Ada Admin or Bo Boss)". */
export function projectAdminsInWords(names: readonly string[]): string {
  if (names.length === 0) return 'a project admin';
  const shown = names.length > 3 ? [...names.slice(0, 3), `${names.length - 3} more`] : [...names];
  return `a project admin (${shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}`})`;
}

/**
 * The sentence shown where something is out of reach: who to ask, for what, in words (reading,
 * unless `action` says otherwise).
 */
export function askForAccess(
  adminNames: readonly string[],
  envName: string,
  action: Action = 'content.read',
): string {
  return `Ask ${projectAdminsInWords(adminNames)} for ${action === 'content.read' ? 'access to' : `the right to ${ACTION_WORDS[action]}`} ${envName}.`;
}

/** Members holding `project_admin` somewhere: they grant roles. */
export function projectAdminIds(
  members: readonly { userId: string; roles: Record<string, readonly Role[]> }[],
): string[] {
  return members
    .filter((m) => Object.values(m.roles).some((roles) => roles.includes('project_admin')))
    .map((m) => m.userId);
}

export interface EnvironmentFacts {
  /** Only drafts are editable: the authoring environment, or production while a hotfix is open. */
  hasDraft: boolean;
}

export function can(roles: readonly Role[], action: Action, env: EnvironmentFacts): boolean {
  if (action === 'content.edit' && !env.hasDraft) return false;
  const allowed: readonly Role[] = ACTIONS[action];
  return roles.some((role) => allowed.includes(role));
}

export const ALL_ROLES: readonly Role[] = ROLES;

/**
 * Role templates for the personas of the reference documents (PRODUCT.md, "Who uses it"), by
 * environment kind, so one template serves both presets; `intoProduction` is the stage that
 * Syncs into production, whatever its kind (STAGING in five stages, UAT in three), so the
 * release manager can bring a release to the stage they Publish in. Applied when inviting
 * someone; adjustable after. test/integration/rel-personas.test.ts walks each one through its job.
 */
export const TEMPLATES = {
  developer: {
    label: 'Developer / builder',
    byKind: { dev: ['viewer', 'editor', 'promoter'], test: ['viewer'] },
  },
  qa: {
    label: 'QA / tester',
    byKind: { dev: ['viewer'], test: ['viewer', 'promoter', 'approver'], uat: ['viewer'] },
  },
  business_owner: {
    label: 'Business owner / stakeholder',
    byKind: { uat: ['viewer', 'promoter', 'approver'], staging: ['viewer', 'approver'] },
  },
  devops: {
    label: 'DevOps / final QA',
    byKind: {
      staging: ['viewer', 'promoter', 'environment_admin'],
      production: ['viewer', 'approver'],
    },
  },
  release_manager: {
    label: 'Release manager',
    byKind: {
      intoProduction: ['viewer', 'promoter'],
      production: ['viewer', 'editor', 'publisher', 'approver', 'environment_admin'],
    },
  },
} as const satisfies Record<
  string,
  { label: string; byKind: Partial<Record<string, readonly Role[]>> }
>;
export type TemplateId = keyof typeof TEMPLATES;

/**
 * The roles a template grants in a project. In the three-stage preset the first stage
 * (Staging) is the authoring one: it takes the template's `dev` roles. The stage before
 * production also takes the `intoProduction` roles.
 */
export function applyTemplate(
  template: TemplateId,
  envs: readonly { id: string; kind: string; position: number }[],
): Record<string, Role[]> {
  const byKind = TEMPLATES[template].byKind as Partial<Record<string, readonly Role[]>>;
  const last = Math.max(...envs.map((e) => e.position));
  const out: Record<string, Role[]> = {};
  for (const e of envs) {
    const kind = isAuthoring(e) ? 'dev' : e.kind;
    const roles = new Set([
      ...(byKind[kind] ?? []),
      ...(e.position === last - 1 ? (byKind.intoProduction ?? []) : []),
    ]);
    if (roles.size > 0) out[e.id] = [...roles];
  }
  return out;
}
