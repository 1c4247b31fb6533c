import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { validateContent, type Problem } from '#schema/content/validate.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';

/** The sample with one change applied, validated; returns the problems. */
function problemsAfter(change: (c: WorkspaceContent) => void): Problem[] {
  const content = sampleContent();
  change(content);
  return validateContent(content);
}

const one = (problems: Problem[]) => {
  expect(problems).toHaveLength(1);
  return problems[0]!;
};

describe('the sample workspace', () => {
  it('has no problems', () => {
    expect(validateContent(sampleContent())).toEqual([]);
  });

  it('an empty workspace has none either', () => {
    expect(
      validateContent({
        agents: {},
        workflows: {},
        knowledge: {},
        integrations: {},
        channels: {},
        variables: {},
      }),
    ).toEqual([]);
  });
});

describe('agents', () => {
  it('requires name, instructions and a fallback message', () => {
    const ps = problemsAfter((c) => {
      c.agents.agt_support!.name = ' ';
      c.agents.agt_support!.instructions = '';
      c.agents.agt_support!.fallbackMessage = '';
    });
    expect(ps.map((p) => [p.itemId, p.field, p.code])).toEqual([
      ['agt_support', 'name', 'required'],
      ['agt_support', 'instructions', 'required'],
      ['agt_support', 'fallbackMessage', 'required'],
    ]);
    expect(ps[0]!.section).toBe('agents');
    expect(ps[0]!.message).toBe('Name is required.');
  });

  it('reports a wrong type, a bad tone and duplicate names', () => {
    expect(one(problemsAfter((c) => void (c.agents.agt_support!.instructions = 42)))).toMatchObject(
      { field: 'instructions', code: 'type' },
    );
    expect(
      one(problemsAfter((c) => void (c.agents.agt_support!.tone = 'sarcastic'))),
    ).toMatchObject({ field: 'tone', code: 'invalid' });
    const dup = one(problemsAfter((c) => void (c.agents.agt_support!.name = 'ESCALATION agent')));
    expect(dup).toMatchObject({ section: 'agents', field: 'name', code: 'duplicate' });
    expect(dup.message).toContain('already named');
  });

  it('reports references to removed integrations and workflows', () => {
    const ps = problemsAfter((c) => {
      delete c.integrations.int_order_status;
      c.workflows.wf_order_status!.steps = [];
      delete c.workflows.wf_ticket;
    });
    const agentProblems = ps.filter((p) => p.section === 'agents');
    expect(agentProblems.map((p) => [p.itemId, p.field, p.code])).toEqual([
      ['agt_escalation', 'workflows', 'reference'],
      ['agt_support', 'integrations', 'reference'],
      ['agt_support', 'workflows', 'reference'],
    ]);
  });

  it('reports an unknown {{variable}} in instructions, behavior and fallback, and unbalanced braces', () => {
    const ps = problemsAfter((c) => {
      c.agents.agt_support!.instructions = 'Hello {{customer_name}}';
      c.agents.agt_support!.behavior = 'Refund up to {{ max_refund_eur }} only';
      c.agents.agt_support!.fallbackMessage = 'Write to {{support_email';
    });
    expect(ps.map((p) => [p.field, p.code])).toEqual([
      ['instructions', 'reference'],
      ['fallbackMessage', 'template'],
    ]);
    expect(ps[0]!.message).toContain('{{customer_name}}');
  });

  it('accepts system variables like {{user.name}}', () => {
    expect(
      problemsAfter(
        (c) =>
          void (c.agents.agt_support!.instructions =
            'Hi {{user.name}} ({{user.email}}) on {{channel.type}}'),
      ),
    ).toEqual([]);
  });
});

describe('workflows', () => {
  it('reports a step calling an integration that does not exist', () => {
    const p = one(
      problemsAfter(
        (c) =>
          void (c.workflows.wf_ticket!.steps = [
            { id: 's1', type: 'call_integration', integration: 'int_gone', resultVariable: '' },
          ]),
      ),
    );
    expect(p).toMatchObject({
      section: 'workflows',
      itemId: 'wf_ticket',
      field: 'steps.s1.integration',
      code: 'reference',
    });
    expect(p.message).toMatch(/^Step 1: .*integration that does not exist/);
  });

  it('reports a hand-off to a removed agent, which also breaks nothing else', () => {
    const ps = problemsAfter((c) => void delete c.agents.agt_escalation);
    expect(ps.map((p) => [p.itemId, p.field, p.code])).toEqual([
      ['wf_order_status', 'steps.st_handoff.agent', 'reference'],
    ]);
  });

  it('reports missing step fields, unknown step variables, bad jumps, unknown step types and duplicate step ids', () => {
    const ps = problemsAfter((c) => {
      c.workflows.wf_ticket!.steps = [
        { id: 'a', type: 'ask', question: '', variable: 'var_nope' },
        {
          id: 'b',
          type: 'condition',
          variable: 'var_order_id',
          operator: 'equals',
          value: 'x',
          thenStep: 'zzz',
        },
        { id: 'c', type: 'message', text: 'Your code is {{promo}}' },
        { id: 'd', type: 'teleport' },
        { id: 'c', type: 'set_variable', variable: '', value: '' },
      ];
    });
    expect(ps.map((p) => [p.field, p.code])).toEqual([
      ['steps.d.type', 'type'],
      ['steps.c', 'duplicate'],
      ['steps.a.question', 'required'],
      ['steps.a.variable', 'reference'],
      ['steps.b.thenStep', 'reference'],
      ['steps.c.text', 'reference'],
      ['steps.c.variable', 'required'],
    ]);
  });

  it('reports a step that is not a list and a trigger that is not allowed', () => {
    expect(
      one(problemsAfter((c) => void (c.workflows.wf_ticket!.steps = 'do things'))),
    ).toMatchObject({ field: 'steps', code: 'type' });
    expect(
      one(problemsAfter((c) => void (c.workflows.wf_ticket!.triggerType = 'telepathy'))),
    ).toMatchObject({ field: 'triggerType', code: 'invalid' });
  });
});

describe('knowledge', () => {
  it('requires title and body, checks tags, templates and duplicate titles', () => {
    const ps = problemsAfter((c) => {
      c.knowledge.kb_shipping!.title = '';
      c.knowledge.kb_shipping!.body = '';
      c.knowledge.kb_returns!.tags = ['ok', 'not ok!', 'ok'];
      c.knowledge.kb_returns!.body = 'Call {{hotline}}';
      c.knowledge.kb_sizes!.title = 'Returns and refunds';
    });
    expect(ps.map((p) => [p.itemId, p.field, p.code])).toEqual([
      ['kb_returns', 'body', 'reference'],
      ['kb_returns', 'tags', 'invalid'],
      ['kb_returns', 'tags', 'duplicate'],
      ['kb_shipping', 'title', 'required'],
      ['kb_shipping', 'body', 'required'],
      ['kb_sizes', 'title', 'duplicate'],
    ]);
  });
});

describe('integrations', () => {
  it('checks URL, headers, body template, timeout and auth', () => {
    const ps = problemsAfter((c) => {
      const i = c.integrations.int_create_ticket!;
      i.urlTemplate = 'ftp://helpdesk/{{ticket_queue}}';
      i.headers = [{ name: 'Bad Header', value: '{{token}}' }];
      i.bodyTemplate = '{"x": "{{nope}}"}';
      i.timeoutMs = 999_999;
      i.authHeader = '';
      i.method = 'FETCH';
    });
    expect(ps.map((p) => [p.field, p.code])).toEqual([
      ['method', 'invalid'],
      ['urlTemplate', 'reference'],
      ['headers.0', 'invalid'],
      ['headers.0', 'reference'],
      ['bodyTemplate', 'reference'],
      ['timeoutMs', 'invalid'],
      ['urlTemplate', 'invalid'],
      ['authHeader', 'required'],
    ]);
  });

  it('holds the NAME of a secret, in UPPER_SNAKE_CASE, required when auth is on', () => {
    expect(
      one(
        problemsAfter((c) => void (c.integrations.int_order_status!.authSecret = 'sk_live_abc123')),
      ),
    ).toMatchObject({ field: 'authSecret', code: 'invalid' });
    expect(
      one(problemsAfter((c) => void (c.integrations.int_order_status!.authSecret = ''))),
    ).toMatchObject({ field: 'authSecret', code: 'required' });
  });
});

describe('channels', () => {
  it('checks each channel type with its own fields', () => {
    const ps = problemsAfter((c) => {
      c.channels.ch_widget!.title = '';
      c.channels.ch_widget!.primaryColor = 'teal';
      c.channels.ch_widget!.allowedDomains = ['acme.example', 'not a domain'];
      c.channels.ch_widget!.greeting = 'Hi {{visitor}}';
      c.channels.ch_email!.address = 'nobody';
      c.channels.ch_slack = {
        name: 'Slack',
        type: 'slack',
        workspace: '',
        channel: '#help',
        botName: '',
      };
      c.channels.ch_fax = { name: 'Fax', type: 'fax' };
    });
    expect(ps.map((p) => [p.itemId, p.field, p.code])).toEqual([
      ['ch_email', 'address', 'invalid'],
      ['ch_fax', 'type', 'invalid'],
      ['ch_slack', 'workspace', 'required'],
      ['ch_widget', 'title', 'required'],
      ['ch_widget', 'greeting', 'reference'],
      ['ch_widget', 'primaryColor', 'invalid'],
      ['ch_widget', 'allowedDomains', 'invalid'],
    ]);
  });
});

describe('variables', () => {
  it('checks names, types, defaults by type and duplicates', () => {
    const ps = problemsAfter((c) => {
      c.variables.var_z = {
        name: '1st company',
        type: 'string',
        description: '',
        defaultValue: '',
      };
      c.variables.var_max_refund!.defaultValue = 'fifty';
      c.variables.var_api_base!.defaultValue = 'orders.acme.example';
      c.variables.var_order_status!.defaultValue = '{broken';
      c.variables.var_x = { name: 'flag', type: 'boolean', description: '', defaultValue: 'yes' };
      c.variables.var_y = { name: 'ORDER_ID', type: 'money', description: '', defaultValue: '' };
    });
    expect(ps.map((p) => [p.itemId, p.field, p.code])).toEqual([
      ['var_api_base', 'defaultValue', 'invalid'],
      ['var_max_refund', 'defaultValue', 'invalid'],
      ['var_order_status', 'defaultValue', 'invalid'],
      ['var_x', 'defaultValue', 'invalid'],
      ['var_y', 'type', 'invalid'],
      ['var_y', 'name', 'duplicate'],
      ['var_z', 'name', 'invalid'],
    ]);
  });

  it('reports every use of a variable after it is renamed', () => {
    const ps = problemsAfter((c) => void (c.variables.var_company!.name = 'brand'));
    expect(ps.length).toBeGreaterThan(3);
    expect(ps.every((p) => p.code === 'reference' && p.message.includes('{{company}}'))).toBe(true);
  });
});
