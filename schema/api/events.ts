/**
 * The project's event stream (`GET /api/projects/:id/events`, server-sent events): thin events,
 * one per change; a page refetches what it shows when one concerns it.
 */
export const PROJECT_EVENT_KINDS = [
  'sync',
  'publish',
  'rollback',
  'request',
  'request.decided',
  'hotfix',
  'replication',
  'conflict',
  'pull',
  'feedback',
  'members',
  'invitation',
  'gates',
  'shares',
  'stages',
  'flow-rules',
  'local',
  'notification',
  'runtimes',
  /** A scheduled release was stored, cancelled, or failed at its time (SCHED). */
  'schedule',
] as const;
export type ProjectEventKind = (typeof PROJECT_EVENT_KINDS)[number];

/** One event as the stream sends it (`data:` of an SSE message whose `id:` is `id`). */
export interface ProjectEventView {
  id: number;
  kind: ProjectEventKind;
  /** The stage it happened in; null for the whole project (members, flow rules …). */
  environmentId: string | null;
  /** Epoch milliseconds. */
  at: number;
}
