import type { GateView, ProjectView } from '#schema/api.ts';
import type { Section } from '#schema/content/spec.ts';
import { api } from './api.ts';
import { choicesOf, flowRulesBody, type FlowChoice } from './flow-choices.ts';
import { gateChanges } from './team-changes.ts';
import { FormFeedback, type TeamState } from './team.svelte.ts';

export { ruleInWords } from './team-changes.ts';

/**
 * The gates form (four eyes): per stage after the first, how many approvals a Sync into it (a
 * Publish, in the last) needs and whether the requester may approve; all saved by one button.
 * Everyone reads the gates of the stages they may read; only project admins change them.
 */
export class GatesForm {
  /** As stored, and as being edited, by environment id. */
  stored = $state<Record<string, GateView>>({});
  gates = $state<Record<string, GateView>>({});
  loaded = $state(false);
  readonly feedback: FormFeedback;
  readonly #team: TeamState;

  constructor(team: TeamState) {
    this.#team = team;
    this.feedback = new FormFeedback(() => this.load());
  }

  load = async (): Promise<void> => {
    // Only the stages the person may read: asking for another would be refused (and logged).
    const envs = (this.#team.project?.environments.slice(1) ?? []).filter((e) =>
      this.#team.mayRead(e.id),
    );
    // A refusal all the same (roles changed meanwhile) leaves that stage out, not an error.
    const read = await Promise.allSettled(
      envs.map(async (e) => [e.id, await api<GateView>(`/environments/${e.id}/gate`)] as const),
    );
    this.stored = Object.fromEntries(
      read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    );
    this.gates = $state.snapshot(this.stored);
    this.loaded = true;
  };

  touched = () => this.feedback.touched();

  save = (event: SubmitEvent) => {
    event.preventDefault();
    const changed = gateChanges(this.stored, this.gates);
    if (changed.length === 0) {
      this.feedback.said = 'Nothing to save: no gate changed.';
      return;
    }
    void this.feedback.save(
      async () => {
        for (const { envId, gate } of changed)
          await api(`/environments/${envId}/gate`, { method: 'PUT', body: gate });
      },
      changed.length === 1 ? 'Gate saved.' : `${changed.length} gates saved.`,
    );
  };
}

/** How sections move (flow rules), edited by project admins and saved by one button. */
export class FlowRulesForm {
  flow = $state<Record<Section, FlowChoice> | null>(null);
  readonly feedback: FormFeedback;
  readonly #team: TeamState;

  constructor(team: TeamState) {
    this.#team = team;
    this.feedback = new FormFeedback(() => Promise.resolve());
  }

  reset = () => {
    const project = this.#team.project;
    this.flow = project ? choicesOf(project.flowRules, project.environments) : null;
  };

  save = (event: SubmitEvent) => {
    event.preventDefault();
    const project = this.#team.project;
    if (!project || !this.flow) return;
    void this.feedback.save(async () => {
      this.#team.project = await api<ProjectView>(`/projects/${project.id}/flow-rules`, {
        method: 'PUT',
        body: {
          flowRules: flowRulesBody($state.snapshot(this.flow!), project.environments),
          expectedVersion: project.flowRulesVersion,
        },
      });
    }, 'Flow rules saved.');
  };
}
