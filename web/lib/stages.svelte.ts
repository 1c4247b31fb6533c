import { ENVIRONMENT_KINDS, type EnvironmentKind } from '#schema/presets.ts';
import type { EnvironmentView } from '#schema/api.ts';
import { api } from './api.ts';
import { FormFeedback, type TeamState } from './team.svelte.ts';

/** What a stage's kind means, in words (the kind only labels a stage; order decides its role). */
export const KIND_LABEL: Record<EnvironmentKind, string> = {
  dev: 'Development',
  test: 'Test',
  uat: 'User acceptance',
  staging: 'Staging',
  production: 'Production',
  custom: 'Other',
};
export const KINDS = ENVIRONMENT_KINDS;

export const kindLabel = (kind: string): string =>
  (KIND_LABEL as Record<string, string>)[kind] ?? KIND_LABEL.custom;

type Stage = { name: string; kind: string; color: string };

/**
 * The Stages form: every stage's name, kind and color, saved together by one button. Only the
 * stages that changed are sent (one PATCH each, in order); a failure says which were saved.
 */
export class StagesForm {
  /** Being edited, by environment id; filled from the project at load and after each save. */
  stages = $state<Record<string, Stage>>({});
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

  set = (envId: string, patch: Partial<Stage>) => {
    const s = this.stages[envId];
    if (!s) return;
    this.stages[envId] = { ...s, ...patch };
    this.feedback.touched();
  };

  #changes(envs: readonly EnvironmentView[]) {
    return envs.flatMap((e) => {
      const s = this.stages[e.id];
      if (!s) return [];
      const patch: Partial<Stage> = {};
      if (s.name.trim() !== e.name) patch.name = s.name.trim();
      if (s.kind !== e.kind) patch.kind = s.kind;
      if (s.color.toLowerCase() !== e.color.toLowerCase()) patch.color = s.color;
      return Object.keys(patch).length > 0 ? [{ env: e, patch }] : [];
    });
  }

  get changed(): boolean {
    return this.#changes(this.#team.project?.environments ?? []).length > 0;
  }

  save = (event: SubmitEvent) => {
    event.preventDefault();
    const changes = this.#changes(this.#team.project?.environments ?? []);
    if (changes.length === 0) {
      this.feedback.said = 'Nothing to save: no stage changed.';
      return;
    }
    const saved: string[] = [];
    void this.feedback
      .save(
        async () => {
          for (const { env, patch } of changes) {
            await api(`/environments/${env.id}`, { method: 'PATCH', body: patch });
            saved.push(patch.name ?? env.name);
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
