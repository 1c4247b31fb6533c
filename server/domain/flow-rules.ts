import { AppError } from '#schema/errors.ts';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import { flowTemplatesOf, type FlowRuleInput, type ProjectView } from '#schema/api.ts';
import {
  draftSections,
  ownedAt,
  parseFlowRules,
  receivesAt,
  rulesFromTemplates,
  storedSections,
  templatesOf,
  type FlowTemplate,
} from '#schema/flow.ts';
import {
  applyContent,
  contentState,
  emptyContent,
  type WorkspaceContent,
} from '#schema/content/ydoc.ts';
import type { DraftRow, ProjectStore } from '../store/projects.ts';
import type { Atomically, Emit } from './events.ts';
import type { ReleaseStore, Pointer } from '../store/releases.ts';
import type { Principal } from './accounts.ts';
import type { Replication } from './replication.ts';
import type { Drafts } from './ports.ts';
import type { Snapshots } from './snapshots.ts';
import { newId } from './ids.ts';
import { flowRulesVersion, projectView } from './projects.ts';
import { authoringOf, openDraftOf, productionOf } from '#schema/pipeline.ts';
import { requireProject } from './require.ts';
import { mapInOrder } from '../lib/in-order.ts';

const isHeld = (t: Partial<Record<Section, FlowTemplate>>, s: Section) =>
  (t[s]?.direction ?? 'up') !== 'up';

/**
 * Changing a project's flow rules after it was created, without changing what any environment
 * holds: a section that stops moving up is seeded into each environment's own draft from what
 * it showed; a section that starts moving up is folded into each pointer's snapshot (a new
 * snapshot of the same content, recorded as `compose`), so nothing disappears until the next
 * Sync. Drafts are added, re-scoped or closed to match; connected editors reconnect.
 * Planned first (reads only), then written: draft seeds, then one transaction for all the rest.
 */
export function createFlowRuleChanges(deps: {
  projects: ProjectStore;
  releases: ReleaseStore;
  snapshots: Snapshots;
  drafts: Drafts;
  /** An environment's content now, with a snapshot in place (composed under the current rules). */
  contentWith(envId: string, snapshotId: string | null): Promise<WorkspaceContent>;
  openHotfix(envId: string): Promise<boolean>;
  replication: {
    forget(draftIds: readonly string[], sections: readonly Section[]): Promise<void>;
    settle(projectId: string): Promise<void>;
    schedule(projectId: string): Promise<void>;
  };
  sourceMoved(envId: string, snapshotId: string): Promise<void>;
  audit(
    e: { projectId: string; environmentId: null; kind: string; actorId: string; subject: unknown },
    now: number,
  ): Promise<unknown>;
  onChanged(projectId: string): void;
  /** The project event log: a `flow-rules` event, in the change's transaction. */
  emit: Emit;
  /** Runs the writes of a change in one transaction (PG-11). */
  atomically: Atomically;
}) {
  return {
    async change(
      by: Principal,
      projectId: string,
      input: Partial<Record<Section, FlowRuleInput>>,
      expectedVersion?: string,
    ): Promise<ProjectView> {
      const record = await requireProject(deps.projects, projectId);
      if (
        expectedVersion !== undefined &&
        expectedVersion !== flowRulesVersion(record.project.flowRules)
      )
        throw new AppError('rules_moved');
      const envs = record.environments;
      const { templates: next, problems } = flowTemplatesOf(envs, input);
      if (problems.length > 0) throw new AppError('invalid_body', problems.join(' '), problems);
      const production = productionOf(envs)!;
      if (await deps.openHotfix(production.id))
        throw new AppError(
          'hotfix_open',
          'A hotfix is open in production: publish or discard it before changing how sections move.',
        );
      const before = parseFlowRules(record.project.flowRules);
      const prev = templatesOf(before, (id) => envs.find((e) => e.id === id)!.position);
      const changed = SECTIONS.filter(
        (s) =>
          JSON.stringify(prev[s] ?? { direction: 'up' }) !==
          JSON.stringify(next[s] ?? { direction: 'up' }),
      );
      if (changed.length === 0) return projectView(record);
      const nowHeld = changed.filter((s) => !isHeld(prev, s) && isHeld(next, s));
      const nowUp = changed.filter((s) => isHeld(prev, s) && !isHeld(next, s));
      const now = Date.now();

      // What every later environment shows now (per pointer), before anything changes.
      const openDraft = (envId: string) => openDraftOf(record.drafts, envId);
      const later = await mapInOrder(envs.slice(1), async (env) => {
        const pointers = (
          await mapInOrder(['current', 'live'] as Pointer[], async (p) => {
            const id = p === 'live' ? env.liveSnapshotId : env.snapshotId;
            return id
              ? [{ pointer: p, snapshotId: id, content: await deps.contentWith(env.id, id) }]
              : [];
          })
        ).flat();
        return {
          env,
          draft: openDraft(env.id),
          pointers,
          shown: pointers.at(-1)?.content ?? (await deps.contentWith(env.id, null)),
        };
      });

      // Drafts to match the new rules: re-scoped, added (seeded with what the stage showed), closed.
      const plan = {
        sections: [] as { draftId: string; sections: Section[] | null }[],
        added: [] as { row: DraftRow; state: Uint8Array }[],
        closed: [] as string[],
      };
      const seeds: { draftId: string; content: Partial<WorkspaceContent> }[] = [];
      const held = SECTIONS.filter((s) => isHeld(next, s));
      const authoring = openDraft(authoringOf(envs)!.id)!;
      plan.sections.push({ draftId: authoring.id, sections: storedSections(ownedAt(next, 0)) });
      for (const { env, draft, shown } of later) {
        const owned = ownedAt(next, env.position);
        const needed = owned.length > 0 || receivesAt(next, env.position);
        if (!needed) {
          if (draft) plan.closed.push(draft.id);
        } else if (!draft) {
          const seed = emptyContent();
          for (const s of held) seed[s] = shown[s];
          const row: DraftRow = {
            id: newId('dft'),
            projectId,
            environmentId: env.id,
            kind: 'section',
            createdAt: now,
            createdBy: by.user.id,
            baseSnapshotId: null,
            closedAt: null,
            sections: storedSections(owned),
          };
          plan.added.push({ row, state: contentState(seed) });
        } else {
          plan.sections.push({ draftId: draft.id, sections: storedSections(owned) });
          if (nowHeld.length > 0)
            seeds.push({
              draftId: draft.id,
              content: Object.fromEntries(nowHeld.map((s) => [s, shown[s]])),
            });
        }
      }

      // Pointers whose snapshot lacks a section that now moves up: the same content, as a new
      // snapshot (frozen in the transaction).
      const moves = (
        await mapInOrder(later, async ({ env, pointers }) =>
          nowUp.length === 0
            ? []
            : (
                await mapInOrder(pointers, async ({ pointer, snapshotId, content }) => {
                  const kept = await deps.snapshots.content(projectId, snapshotId);
                  for (const s of nowUp) kept[s] = content[s];
                  return deps.snapshots.idOf(kept) === snapshotId
                    ? []
                    : [{ env, pointer, from: snapshotId, content: kept }];
                })
              ).flat(),
        )
      ).flat();
      const stored = rulesFromTemplates(
        next,
        envs.map((e) => e.id),
      );
      const noun = changed.join(', ');
      const touched = [...plan.sections.map((d) => d.draftId), ...plan.closed];

      // Draft seeds first, each stored before it counts (durable): a section that stops moving up
      // gets exactly what the stage showed, in a draft that does not own that section yet, so
      // nothing reads it until the transaction below commits the new rules. If a seed cannot be
      // stored, nothing else was written; if the transaction fails after seeds were stored, the
      // seeded drafts hold an unowned copy of what their stage already shows, which nothing reads
      // and the next change that holds the section overwrites.
      for (const { draftId, content } of seeds) {
        if (!(await deps.drafts.edit(draftId, 'flow_rules', (doc) => applyContent(doc, content))))
          throw new AppError('storage_unavailable');
      }
      // Everything else in ONE transaction: the rules (compare-and-swap on what the plan read),
      // the drafts, the composed snapshots and the pointer moves (each re-checked), voided
      // requests, replication bases and the audit record. A failure anywhere leaves none of it.
      await deps.atomically(async () => {
        await deps.projects.changeFlowRules(
          projectId,
          record.project.flowRules,
          JSON.stringify(stored),
          plan,
          now,
        );
        for (const m of moves) {
          const toSnapshotId = await deps.snapshots.freeze(
            projectId,
            m.content,
            {
              kind: 'compose',
              parentId: m.from,
              sourceDraftId: null,
              message: null,
              createdBy: by.user.id,
            },
            { validate: false },
          );
          await deps.releases.commitMove(
            {
              projectId,
              environmentId: m.env.id,
              pointer: m.pointer,
              kind: 'compose',
              toSnapshotId,
              expectedFrom: m.from,
              actorId: by.user.id,
              message: `Flow rules changed (${noun}): the same content, now carried by the snapshot`,
              detail: { sections: nowUp },
            },
            now,
          );
          if (m.pointer === 'current') await deps.sourceMoved(m.env.id, toSnapshotId);
        }
        // Old merge bases no longer hold.
        await deps.replication.forget(touched, changed);
        await deps.audit(
          {
            projectId,
            environmentId: null,
            kind: 'flow_rules.changed',
            actorId: by.user.id,
            subject: { before: JSON.parse(record.project.flowRules) as unknown, after: stored },
          },
          now,
        );
        await deps.emit({
          projectId,
          environmentId: null,
          kind: 'flow-rules',
          actorId: by.user.id,
        });
        // Replication under the new rules, asked in the change's transaction (PG-121).
        await deps.replication.schedule(projectId);
      });
      // After the commit: everyone editing reconnects to drafts scoped by the new rules.
      for (const id of touched) deps.drafts.close(id, 'rights_changed');
      // What neighbouring stages were seeded with alike is their new merge base (no phantom
      // conflict on the first edit).
      await deps.replication.settle(projectId);
      deps.onChanged(projectId);
      return projectView((await deps.projects.getProject(projectId))!);
    },
  };
}

export type FlowRuleChanges = ReturnType<typeof createFlowRuleChanges>;

/** How long a draft whose replication could not be asked about waits before it is asked again. */
const ASK_AGAIN_MS = 5000;

/**
 * What flow rules decide about live drafts; the Rooms registry takes it as its DraftPolicy
 * (collab/room.ts). A draft that owns only some sections refuses changes to the others, and a
 * change to a draft of a project with `down` sections, once durable, schedules its replication.
 */
export function createDraftPolicy(deps: {
  projects: ProjectStore;
  replication: Pick<Replication, 'schedule'>;
  log?: (msg: string, err?: unknown) => void;
}) {
  // Draft id → the project its changes replicate in (null: none), asked once per draft until the
  // rules change: the question itself, so appends arriving while it is asked wait for the same
  // answer. A question that failed is forgotten only ASK_AGAIN_MS later: on PostgreSQL under load
  // (a full pool), asking again at every append of every draft — 2,000 a second in bench S4 —
  // kept the pool full, and every answer failed (a process at 100 % of a core, p50 0.1 s).
  const replicatedProject = new Map<string, Promise<string | null>>();
  async function replicatedIn(draftId: string): Promise<string | null> {
    const project = await deps.projects.getProject(
      (await deps.projects.getDraft(draftId))?.draft.projectId ?? '',
    );
    const rules = project ? parseFlowRules(project.project.flowRules) : null;
    return rules && SECTIONS.some((s) => rules[s].direction === 'down')
      ? project!.project.id
      : null;
  }
  function asked(draftId: string): Promise<string | null> {
    let answer = replicatedProject.get(draftId);
    if (answer) return answer;
    answer = replicatedIn(draftId);
    const question = answer;
    replicatedProject.set(draftId, question);
    question.catch((err: unknown) => {
      deps.log?.(`draft ${draftId}: could not ask for its replication`, err);
      // Asked again once, later, for the change that asked (and any since): not at each append.
      setTimeout(() => {
        if (replicatedProject.get(draftId) !== question) return;
        replicatedProject.delete(draftId);
        void durable(draftId);
      }, ASK_AGAIN_MS).unref();
    });
    return question;
  }
  /** A change to the draft is durable: its replication is scheduled once its project is known. */
  async function durable(draftId: string): Promise<void> {
    let projectId: string | null;
    try {
      projectId = await asked(draftId);
    } catch {
      return; // logged once where it was asked, and asked again ASK_AGAIN_MS later
    }
    try {
      if (projectId) await deps.replication.schedule(projectId);
    } catch (err) {
      deps.log?.(`draft ${draftId}: could not ask for its replication`, err);
    }
  }
  return {
    async readOnlySections(draftId: string): Promise<ReadonlySet<string>> {
      const draft = (await deps.projects.getDraft(draftId))?.draft;
      if (!draft?.sections) return new Set<string>();
      const owned = draftSections(draft);
      return new Set<string>(SECTIONS.filter((s) => !owned.includes(s)));
    },
    /**
     * On the hot path of every flush: one coalescing enqueue once the draft's project is known.
     * Never throws (the flush is durable already); a lost enqueue is made up at the next start.
     */
    onDurable: durable,
    /** A project's flow rules changed: which drafts replicate is asked again. */
    rulesChanged(): void {
      replicatedProject.clear();
    },
  };
}
