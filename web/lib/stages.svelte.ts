import { ENVIRONMENT_KINDS } from '#schema/presets.ts';
import { api } from './api.ts';
import { stageChanges, type StageEdit } from './team-changes.ts';
import { FormFeedback, type TeamState } from './team.svelte.ts';

export { KIND_LABEL, kindLabel } from './team-changes.ts';
export const KINDS = ENVIRONMENT_KINDS;

/**
 * The Stages form: every stage's name, kind and color, saved together by one button. Only the
 * stages that changed are sent (one PATCH each, in order); a failure says which were saved.
 */
export class StagesForm {
  /** Being edited, by environment id; filled from the project at load and after each save. */
  stages = $state<Record<string, StageEdit>>({});
  readonly feedback: FormFeedback;
  readonly #team: TeamState;

  constructor(team: TeamState) {
    this.#team = team;
    this.feedback = new FormFeedback(async () => {
      await team.load();
      this.reset();
    });
  }

  /** The form shows the stages as stored. */
  reset = () => {
    this.stages = Object.fromEntries(
      (this.#team.project?.environments ?? []).map((e) => [
        e.id,
        { name: e.name, kind: e.kind, color: e.color },
      ]),
    );
  };

  set = (envId: string, patch: Partial<StageEdit>) => {
    const s = this.stages[envId];
    if (!s) return;
    this.stages[envId] = { ...s, ...patch };
    this.feedback.touched();
  };

  save = (event: SubmitEvent) => {
    event.preventDefault();
    const changes = stageChanges(this.#team.project?.environments ?? [], this.stages);
    if (changes.length === 0) {
      this.feedback.said = 'Nothing to save: no stage changed.';
      return;
    }
    const saved: string[] = [];
    void this.feedback
      .save(
        async () => {
          for (const { envId, name, patch } of changes) {
            await api(`/environments/${envId}`, { method: 'PATCH', body: patch });
            saved.push(patch.name ?? name);
          }
        },
        changes.length === 1 ? 'Stage saved.' : `${changes.length} stages saved.`,
      )
      .then((ok) => {
        if (!ok && saved.length > 0) {
          // Earlier stages were saved: reload them, and keep the error saying what was not.
          const error = this.feedback.pending.error;
          void this.#team.load().then(() => {
            this.feedback.pending.error = `Saved ${saved.join(', ')}; the next one was not: ${error}`;
          });
        }
      });
  };
}
