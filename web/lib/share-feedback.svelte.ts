import type { SharedFeedback } from '#schema/api.ts';
import type { Section } from '#schema/content/spec.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';

/** Where a stakeholder's name is remembered between visits (this browser only). */
const AUTHOR_KEY = 'stagecoach.feedback.author';

const keyOf = (section: string, itemId: string) => `${section}/${itemId}`;

function remembered(): string {
  try {
    return localStorage.getItem(AUTHOR_KEY) ?? '';
  } catch {
    return '';
  }
}

/**
 * A share page's comments, item by item: this link's earlier comments (with the team's replies),
 * and the one small form open under an item. The author's name is remembered in localStorage so a
 * reviewer types it once.
 */
export class ShareFeedbackState {
  /** The item (`section/itemId`) whose form is open. */
  open = $state<string | null>(null);
  author = $state(remembered());
  text = $state('');
  /** The item whose comment was just sent (its thanks shows there). */
  sent = $state<string | null>(null);
  /** Keyed by item: that item's form shows its failure. */
  readonly pending: Pending<string>;
  readonly #token: () => string;
  readonly #comments: () => SharedFeedback[];

  constructor(token: () => string, comments: () => SharedFeedback[], reload: () => Promise<void>) {
    this.#token = token;
    this.#comments = comments;
    this.pending = new Pending<string>(reload);
  }

  /** The comments on one item, oldest first (the server sends the link's newest 300). */
  readonly byItem = $derived.by(() => {
    const map: Record<string, SharedFeedback[]> = {};
    // Newest first from the server: each earlier one goes in front.
    for (const f of this.#comments()) (map[keyOf(f.section, f.itemId)] ??= []).unshift(f);
    return map;
  });

  on = (section: string, itemId: string): SharedFeedback[] =>
    this.byItem[keyOf(section, itemId)] ?? [];

  isOpen = (section: string, itemId: string) => this.open === keyOf(section, itemId);

  start = (section: string, itemId: string) => {
    this.open = keyOf(section, itemId);
    this.sent = null;
    this.pending.error = null;
  };

  cancel = () => {
    this.open = null;
    this.text = '';
  };

  send = (section: Section, itemId: string) => {
    const key = keyOf(section, itemId);
    const body = { section, itemId, author: this.author.trim(), text: this.text };
    void this.pending
      .run(async () => {
        await api(`/share/${this.#token()}/feedback`, { method: 'POST', body });
        try {
          localStorage.setItem(AUTHOR_KEY, body.author);
        } catch {
          // Storage refused (private mode): the name is asked again next time.
        }
      }, key)
      .then((ok) => {
        if (!ok) return;
        this.text = '';
        this.open = null;
        this.sent = key;
      });
  };
}
