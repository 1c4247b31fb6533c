import * as Y from 'yjs';

/**
 * The live draft's layout: one Y.Map per section at the top level, keyed by item id; each
 * item a Y.Map; long text as Y.Text. This file is shared by the server and the browser.
 */
export const SECTIONS = ['agents', 'workflows', 'knowledge', 'integrations', 'channels', 'variables'] as const;
export type Section = (typeof SECTIONS)[number];

export type ItemJson = Record<string, unknown>;
export type WorkspaceContent = Record<Section, Record<string, ItemJson>>;

export function emptyContent(): WorkspaceContent {
  return Object.fromEntries(SECTIONS.map((s) => [s, {}])) as WorkspaceContent;
}

export function sectionMap(doc: Y.Doc, section: Section): Y.Map<Y.Map<unknown>> {
  return doc.getMap(section);
}

/** The draft as plain JSON (Y.Text becomes a string). */
export function draftContent(doc: Y.Doc): WorkspaceContent {
  const content = emptyContent();
  for (const section of SECTIONS) {
    const items = sectionMap(doc, section);
    for (const [id, item] of items) {
      // A foreign client may put anything in a section; only maps are items.
      if (item instanceof Y.Map) content[section][id] = item.toJSON() as ItemJson;
    }
  }
  return content;
}

export interface AgentView {
  id: string;
  name: string;
}

export function newItemId(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Adds an agent in one transaction so collaborators never see a half-made item. */
export function addAgent(doc: Y.Doc, name: string, id: string = newItemId()): string {
  doc.transact(() => {
    const agent = new Y.Map<unknown>();
    agent.set('name', name);
    agent.set('instructions', new Y.Text());
    sectionMap(doc, 'agents').set(id, agent);
  });
  return id;
}

export function agentInstructions(agent: Y.Map<unknown>): Y.Text | null {
  const text = agent.get('instructions');
  return text instanceof Y.Text ? text : null;
}

export function listAgents(doc: Y.Doc): AgentView[] {
  const out: AgentView[] = [];
  for (const [id, item] of sectionMap(doc, 'agents')) {
    if (!(item instanceof Y.Map)) continue;
    const name = item.get('name');
    out.push({ id, name: typeof name === 'string' ? name : '' });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}
