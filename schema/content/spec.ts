/**
 * The workspace content model, as data. One description of every section's fields drives
 * the Yjs layout, reading a draft as JSON, validation, the canonical form and the editor's
 * forms, so they cannot drift apart.
 */
import { isEmailAddress } from '../email.ts';

export const SECTIONS = [
  'agents',
  'workflows',
  'knowledge',
  'integrations',
  'channels',
  'variables',
] as const;
export type Section = (typeof SECTIONS)[number];

/**
 * What a short text must look like: a RegExp that cannot backtrack, or a hand-written scanner where
 * a pattern would.
 */
export interface TextCheck {
  test(text: string): boolean;
}

export type FieldSpec =
  /** A short plain string (last writer wins per field). */
  | {
      kind: 'string';
      label: string;
      required?: boolean;
      max?: number;
      pattern?: TextCheck;
      patternHint?: string;
      placeholder?: string;
      help?: string;
    }
  /** Long text, co-edited character by character (Y.Text). `template`: may hold {{variable}} references. */
  | {
      kind: 'text';
      label: string;
      required?: boolean;
      template?: boolean;
      max?: number;
      placeholder?: string;
      help?: string;
      lines?: number;
      /** Markdown: rendered where it is read (its source a toggle away); the editor offers a preview. */
      markdown?: boolean;
    }
  | {
      kind: 'enum';
      label: string;
      values: readonly string[];
      labels?: Readonly<Record<string, string>>;
      default: string;
      help?: string;
    }
  | {
      kind: 'number';
      label: string;
      min: number;
      max: number;
      integer?: boolean;
      default: number;
      unit?: string;
      help?: string;
    }
  | { kind: 'color'; label: string; default: string }
  /** A list of short strings (Y.Array<string>), e.g. tags, domains, audience names. */
  | {
      kind: 'list';
      label: string;
      itemLabel: string;
      pattern?: TextCheck;
      patternHint?: string;
      help?: string;
    }
  /** References to items of another section, by their stable id (Y.Array<string>). */
  | { kind: 'refs'; label: string; to: Section; help?: string }
  /** One reference to an item of another section, by id ('' for none). */
  | { kind: 'ref'; label: string; to: Section; required?: boolean; help?: string }
  /** Name/value pairs (Y.Array<Y.Map>), e.g. HTTP headers; values are templates. */
  | { kind: 'pairs'; label: string; help?: string }
  /** Ordered workflow steps (Y.Array<Y.Map>), each with a stable id and a type. */
  | { kind: 'steps'; label: string };

export type Fields = Readonly<Record<string, FieldSpec>>;

export interface Variant {
  label: string;
  fields: Fields;
}

export interface ItemSpec {
  /** The section's title in the UI ("Agents"). */
  title: string;
  /** One sentence saying what the section holds, under its title in the editor. */
  blurb: string;
  /** Singular noun for the UI ("agent"). */
  noun: string;
  /** The field that names an item; names are unique within a section. */
  nameField: string;
  fields: Fields;
  /** For items whose fields depend on a type (channels): the enum field and its variants. */
  variantKey?: string;
  variants?: Readonly<Record<string, Variant>>;
}

export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAME = { kind: 'string', label: 'Name', required: true, max: 100 } as const;
const AUDIENCES = {
  kind: 'list',
  label: 'Audiences',
  itemLabel: 'audience name',
  help: 'Audiences are defined per environment; each name must exist in every environment this reaches.',
} as const;

export const STEP_TYPES = [
  'message',
  'ask',
  'condition',
  'call_integration',
  'set_variable',
  'handoff',
] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const CONDITION_OPERATORS = [
  'equals',
  'not_equals',
  'contains',
  'greater_than',
  'less_than',
  'is_set',
  'is_empty',
] as const;

/** Workflow steps: every step has `id` and `type`; the rest depends on the type. */
export const STEP_VARIANTS: Readonly<Record<StepType, Variant>> = {
  message: {
    label: 'Send a message',
    fields: { text: { kind: 'text', label: 'Message', required: true, template: true, lines: 3 } },
  },
  ask: {
    label: 'Ask a question',
    fields: {
      question: { kind: 'text', label: 'Question', required: true, template: true, lines: 2 },
      variable: { kind: 'ref', label: 'Save the answer in', to: 'variables', required: true },
    },
  },
  condition: {
    label: 'Condition',
    fields: {
      variable: { kind: 'ref', label: 'If variable', to: 'variables', required: true },
      operator: {
        kind: 'enum',
        label: 'Operator',
        values: CONDITION_OPERATORS,
        labels: {
          equals: 'equals',
          not_equals: 'does not equal',
          contains: 'contains',
          greater_than: 'is greater than',
          less_than: 'is less than',
          is_set: 'is set',
          is_empty: 'is empty',
        },
        default: 'equals',
      },
      value: { kind: 'string', label: 'Value', max: 500 },
      thenStep: {
        kind: 'string',
        label: 'Then jump to step',
        help: 'Leave empty to continue with the next step.',
      },
    },
  },
  call_integration: {
    label: 'Call an integration',
    fields: {
      integration: { kind: 'ref', label: 'Integration', to: 'integrations', required: true },
      resultVariable: { kind: 'ref', label: 'Save the result in', to: 'variables' },
    },
  },
  set_variable: {
    label: 'Set a variable',
    fields: {
      variable: { kind: 'ref', label: 'Variable', to: 'variables', required: true },
      value: { kind: 'text', label: 'Value', template: true, lines: 1 },
    },
  },
  handoff: {
    label: 'Hand off to an agent',
    fields: {
      agent: { kind: 'ref', label: 'Agent', to: 'agents', required: true },
      message: { kind: 'text', label: 'Hand-off message', template: true, lines: 2 },
    },
  },
};

export const VARIABLE_TYPES = ['string', 'number', 'boolean', 'url', 'json'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

export const CHANNEL_TYPES = ['web_widget', 'slack', 'teams', 'email'] as const;

export const SPECS: Readonly<Record<Section, ItemSpec>> = {
  agents: {
    title: 'Agents',
    blurb: 'Who talks to your users: instructions, behavior, tone, and what each may use.',
    noun: 'agent',
    nameField: 'name',
    fields: {
      name: NAME,
      description: {
        kind: 'string',
        label: 'Description',
        max: 300,
        placeholder: 'What this agent is for',
      },
      instructions: {
        kind: 'text',
        label: 'Instructions',
        required: true,
        template: true,
        lines: 10,
        placeholder: 'You are a friendly support agent for…',
      },
      behavior: {
        kind: 'text',
        label: 'Behavior rules',
        template: true,
        lines: 4,
        placeholder: 'Never promise refunds. Escalate legal questions.',
      },
      fallbackMessage: {
        kind: 'text',
        label: 'Fallback message',
        required: true,
        template: true,
        lines: 2,
        help: 'Said when the agent cannot help.',
      },
      tone: {
        kind: 'enum',
        label: 'Tone',
        values: ['neutral', 'friendly', 'formal', 'concise', 'empathetic'],
        labels: {
          neutral: 'Neutral',
          friendly: 'Friendly',
          formal: 'Formal',
          concise: 'Concise',
          empathetic: 'Empathetic',
        },
        default: 'friendly',
      },
      integrations: { kind: 'refs', label: 'Integrations it may use', to: 'integrations' },
      workflows: { kind: 'refs', label: 'Workflows it may run', to: 'workflows' },
      audiences: AUDIENCES,
    },
  },
  workflows: {
    title: 'Workflows',
    blurb: 'Step-by-step flows an agent runs: ask, check, call an integration, hand off.',
    noun: 'workflow',
    nameField: 'name',
    fields: {
      name: NAME,
      description: { kind: 'string', label: 'Description', max: 300 },
      triggerType: {
        kind: 'enum',
        label: 'Trigger',
        values: ['intent', 'keyword', 'event', 'manual'],
        labels: {
          intent: 'When the user intends…',
          keyword: 'When a message contains…',
          event: 'On an event',
          manual: 'Only when an agent starts it',
        },
        default: 'intent',
      },
      triggerValue: {
        kind: 'string',
        label: 'Trigger value',
        max: 200,
        placeholder: 'track my order',
      },
      steps: { kind: 'steps', label: 'Steps' },
    },
  },
  knowledge: {
    title: 'Knowledge',
    blurb: 'Articles the agents answer from, in Markdown.',
    noun: 'article',
    nameField: 'title',
    fields: {
      title: { kind: 'string', label: 'Title', required: true, max: 200 },
      body: {
        kind: 'text',
        label: 'Body',
        required: true,
        template: true,
        lines: 14,
        markdown: true,
        help: 'Markdown.',
      },
      tags: {
        kind: 'list',
        label: 'Tags',
        itemLabel: 'tag',
        pattern: /^[\w-]{1,40}$/,
        patternHint: 'letters, digits, - and _',
      },
      audiences: AUDIENCES,
    },
  },
  integrations: {
    title: 'Integrations',
    blurb:
      'API calls the agents and workflows may make. Credentials are secret NAMES, set per environment.',
    noun: 'integration',
    nameField: 'name',
    fields: {
      name: NAME,
      method: {
        kind: 'enum',
        label: 'Method',
        values: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        default: 'GET',
      },
      urlTemplate: {
        kind: 'text',
        label: 'URL',
        required: true,
        template: true,
        lines: 1,
        placeholder: 'https://api.example.com/orders/{{order_id}}',
      },
      headers: { kind: 'pairs', label: 'Headers' },
      bodyTemplate: { kind: 'text', label: 'Body template', template: true, lines: 5 },
      timeoutMs: {
        kind: 'number',
        label: 'Timeout',
        min: 100,
        max: 60_000,
        integer: true,
        default: 5000,
        unit: 'ms',
      },
      authType: {
        kind: 'enum',
        label: 'Authentication',
        values: ['none', 'bearer', 'basic', 'api_key_header'],
        labels: {
          none: 'None',
          bearer: 'Bearer token',
          basic: 'Basic auth',
          api_key_header: 'API key header',
        },
        default: 'none',
      },
      authSecret: {
        kind: 'string',
        label: 'Secret name',
        pattern: /^[A-Z][A-Z0-9_]*$/,
        patternHint: 'UPPER_SNAKE_CASE',
        max: 100,
        help: 'The NAME of a secret set in each environment. Never put the secret itself here.',
      },
      authHeader: { kind: 'string', label: 'Header name', max: 100, placeholder: 'X-Api-Key' },
    },
  },
  channels: {
    title: 'Channels',
    blurb: 'Where users meet the agents: the web widget, Slack, Teams, email.',
    noun: 'channel',
    nameField: 'name',
    fields: {
      name: NAME,
      type: {
        kind: 'enum',
        label: 'Type',
        values: CHANNEL_TYPES,
        labels: {
          web_widget: 'Web widget',
          slack: 'Slack',
          teams: 'Microsoft Teams',
          email: 'Email',
        },
        default: 'web_widget',
      },
    },
    variantKey: 'type',
    variants: {
      web_widget: {
        label: 'Web widget',
        fields: {
          title: { kind: 'string', label: 'Title', required: true, max: 100 },
          greeting: { kind: 'text', label: 'Greeting', template: true, lines: 2 },
          primaryColor: { kind: 'color', label: 'Primary color', default: '#2563eb' },
          accentColor: { kind: 'color', label: 'Accent color', default: '#f59e0b' },
          position: {
            kind: 'enum',
            label: 'Position',
            values: ['bottom-right', 'bottom-left'],
            labels: { 'bottom-right': 'Bottom right', 'bottom-left': 'Bottom left' },
            default: 'bottom-right',
          },
          allowedDomains: {
            kind: 'list',
            label: 'Allowed domains',
            itemLabel: 'domain',
            pattern: /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+$/i,
            patternHint: 'like example.com or *.example.com',
          },
        },
      },
      slack: {
        label: 'Slack',
        fields: {
          workspace: { kind: 'string', label: 'Workspace', required: true, max: 100 },
          channel: { kind: 'string', label: 'Channel', max: 100, placeholder: '#support' },
          botName: { kind: 'string', label: 'Bot name', max: 80 },
        },
      },
      teams: {
        label: 'Microsoft Teams',
        fields: {
          tenant: { kind: 'string', label: 'Tenant', required: true, max: 100 },
          botName: { kind: 'string', label: 'Bot name', max: 80 },
        },
      },
      email: {
        label: 'Email',
        fields: {
          address: {
            kind: 'string',
            label: 'Inbox address',
            required: true,
            max: 254,
            pattern: { test: isEmailAddress },
            patternHint: 'an email address',
          },
          senderName: { kind: 'string', label: 'Sender name', max: 100 },
          signature: { kind: 'text', label: 'Signature', template: true, lines: 3 },
        },
      },
    },
  },
  variables: {
    title: 'Variables',
    blurb: 'Named values used in templates as {{name}}; each environment may override the value.',
    noun: 'variable',
    nameField: 'name',
    fields: {
      name: {
        kind: 'string',
        label: 'Name',
        required: true,
        max: 64,
        pattern: IDENTIFIER,
        patternHint: 'letters, digits and _, not starting with a digit',
        help: 'Used in templates as {{name}}.',
      },
      type: {
        kind: 'enum',
        label: 'Type',
        values: VARIABLE_TYPES,
        labels: { string: 'Text', number: 'Number', boolean: 'Yes/No', url: 'URL', json: 'JSON' },
        default: 'string',
      },
      description: { kind: 'string', label: 'Description', max: 300 },
      defaultValue: {
        kind: 'string',
        label: 'Default value',
        max: 10_000,
        help: 'Each environment may override the value.',
      },
    },
  },
};

/** Variables every conversation has; templates may use them without declaring them. */
export const SYSTEM_VARIABLES = [
  'user.id',
  'user.name',
  'user.email',
  'conversation.id',
  'channel.type',
] as const;

/** The fields an item of `spec` has, given its variant (channel type). */
export function fieldsOf(spec: ItemSpec, item: Readonly<Record<string, unknown>>): Fields {
  if (!spec.variantKey || !spec.variants) return spec.fields;
  const key = String(item[spec.variantKey]);
  const v = Object.hasOwn(spec.variants, key) ? spec.variants[key] : undefined;
  return v ? { ...spec.fields, ...v.fields } : spec.fields;
}
