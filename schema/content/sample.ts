import type { WorkspaceContent } from './ydoc.ts';

/**
 * A realistic customer-support workspace, so a new user can try everything at once.
 * It validates with no problems (a test holds it to that).
 */
export function sampleContent(): WorkspaceContent {
  return {
    variables: {
      var_order_id: {
        name: 'order_id',
        type: 'string',
        description: 'The order the customer asks about.',
        defaultValue: '',
      },
      var_order_status: {
        name: 'order_status',
        type: 'json',
        description: 'What the order API answered.',
        defaultValue: '{}',
      },
      var_company: {
        name: 'company',
        type: 'string',
        description: 'Shown in greetings.',
        defaultValue: 'Acme Outdoor',
      },
      var_support_email: {
        name: 'support_email',
        type: 'string',
        description: 'Where people can write to.',
        defaultValue: 'help@acme.example',
      },
      var_api_base: {
        name: 'orders_api',
        type: 'url',
        description: 'Base URL of the order system.',
        defaultValue: 'https://orders.acme.example/v2',
      },
      var_max_refund: {
        name: 'max_refund_eur',
        type: 'number',
        description: 'Largest refund an agent may offer.',
        defaultValue: '50',
      },
    },
    integrations: {
      int_order_status: {
        name: 'Order status API',
        method: 'GET',
        urlTemplate: '{{orders_api}}/orders/{{order_id}}',
        headers: [
          { name: 'Accept', value: 'application/json' },
          { name: 'X-Requested-By', value: '{{company}} support bot' },
        ],
        bodyTemplate: '',
        timeoutMs: 4000,
        authType: 'bearer',
        authSecret: 'ORDERS_API_TOKEN',
        authHeader: '',
      },
      int_create_ticket: {
        name: 'Create support ticket',
        method: 'POST',
        urlTemplate: 'https://helpdesk.acme.example/api/tickets',
        headers: [{ name: 'Content-Type', value: 'application/json' }],
        bodyTemplate: '{\n  "subject": "Order {{order_id}}",\n  "requester": "{{user.email}}"\n}',
        timeoutMs: 8000,
        authType: 'api_key_header',
        authSecret: 'HELPDESK_API_KEY',
        authHeader: 'X-Api-Key',
      },
    },
    workflows: {
      wf_order_status: {
        name: 'Order status',
        description: 'Looks up an order and tells the customer where it is.',
        triggerType: 'intent',
        triggerValue: 'where is my order',
        steps: [
          {
            id: 'st_ask',
            type: 'ask',
            question: 'Sure! What is your order number?',
            variable: 'var_order_id',
          },
          {
            id: 'st_call',
            type: 'call_integration',
            integration: 'int_order_status',
            resultVariable: 'var_order_status',
          },
          {
            id: 'st_check',
            type: 'condition',
            variable: 'var_order_status',
            operator: 'is_empty',
            value: '',
            thenStep: 'st_handoff',
          },
          {
            id: 'st_tell',
            type: 'message',
            text: 'Order {{order_id}}: {{order_status}}. Anything else I can do, {{user.name}}?',
          },
          {
            id: 'st_handoff',
            type: 'handoff',
            agent: 'agt_escalation',
            message: 'I could not find order {{order_id}}; a colleague will take over.',
          },
        ],
      },
      wf_ticket: {
        name: 'Open a ticket',
        description: 'Files a helpdesk ticket when the bot cannot solve it.',
        triggerType: 'keyword',
        triggerValue: 'talk to a human',
        steps: [
          {
            id: 'st_t1',
            type: 'call_integration',
            integration: 'int_create_ticket',
            resultVariable: '',
          },
          {
            id: 'st_t2',
            type: 'message',
            text: 'I opened a ticket for you. We will answer at {{user.email}} within a day.',
          },
        ],
      },
    },
    agents: {
      agt_support: {
        name: 'Support agent',
        description: 'First line of customer support on the website.',
        instructions:
          'You are the friendly support assistant of {{company}}.\n' +
          'Greet {{user.name}} by name, keep answers short, and use the knowledge base first.\n' +
          'For order questions run the "Order status" workflow.\n' +
          'If you cannot help, offer to open a ticket.',
        behavior:
          'Never promise refunds above {{max_refund_eur}} EUR.\nNever ask for passwords or card numbers.',
        fallbackMessage: 'Sorry, I did not get that. You can also write to {{support_email}}.',
        tone: 'friendly',
        integrations: ['int_order_status'],
        workflows: ['wf_order_status', 'wf_ticket'],
        audiences: ['customers'],
      },
      agt_escalation: {
        name: 'Escalation agent',
        description: 'Takes over difficult conversations and prepares a ticket.',
        instructions:
          'You take over when the support agent is stuck. Summarise the case for {{company}} staff and open a ticket.',
        behavior: '',
        fallbackMessage: 'A colleague will contact you at {{user.email}}.',
        tone: 'empathetic',
        integrations: ['int_create_ticket'],
        workflows: ['wf_ticket'],
        audiences: ['customers'],
      },
    },
    knowledge: {
      kb_shipping: {
        title: 'Shipping times',
        body: '# Shipping times\n\n- Germany: 1–2 working days\n- EU: 3–5 working days\n- Rest of the world: 7–14 working days\n\nOrders placed before 14:00 ship the same day.',
        tags: ['shipping', 'orders'],
        audiences: ['customers'],
      },
      kb_returns: {
        title: 'Returns and refunds',
        body: '# Returns\n\nItems can be returned within **30 days**. Refunds reach the original payment method within 5 working days.\n\nQuestions? Write to {{support_email}}.',
        tags: ['returns', 'refunds'],
        audiences: ['customers'],
      },
      kb_sizes: {
        title: 'Size guide',
        body: '# Size guide\n\n| EU | US | UK |\n|----|----|----|\n| 40 | 7  | 6.5 |\n| 42 | 8.5 | 8 |\n| 44 | 10 | 9.5 |',
        tags: ['products'],
        audiences: ['customers'],
      },
    },
    channels: {
      ch_widget: {
        name: 'Website widget',
        type: 'web_widget',
        title: 'Acme help',
        greeting: 'Hi! I am the {{company}} assistant. How can I help?',
        primaryColor: '#0f766e',
        accentColor: '#f59e0b',
        position: 'bottom-right',
        allowedDomains: ['acme.example', '*.acme.example'],
      },
      ch_email: {
        name: 'Support inbox',
        type: 'email',
        address: 'help@acme.example',
        senderName: 'Acme Support',
        signature: 'Kind regards,\nthe {{company}} support team',
      },
    },
  };
}

/**
 * The audience the sample refers to; a project made with the sample gets it in every environment
 * (each with its own id).
 */
export const SAMPLE_AUDIENCES = [
  {
    name: 'customers',
    description: 'People who bought from the shop',
    rules: [{ attribute: 'role' as const, operator: 'is' as const, values: ['customer'] }],
  },
];
