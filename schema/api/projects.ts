import type { Section } from '../content/spec.ts';
import type { FlowRules } from '../flow.ts';
import type { Role } from '../permissions.ts';

/** Projects and their stages as the API answers them. */
export interface UserView {
  id: string;
  email: string;
  name: string;
}

export interface EnvironmentView {
  id: string;
  name: string;
  kind: string;
  position: number;
  color: string;
  /**
   * The environment's editable draft: the authoring one's, and (flow rules) a draft of the `down`
   * sections edited there.
   */
  draftId?: string;
  /** The sections that draft owns. */
  draftSections?: Section[];
  /** The current snapshot (null until something is synced here; always null for the authoring one). */
  snapshotId: string | null;
  /** Production only: what is live for end users. */
  liveSnapshotId?: string | null;
}

export interface ProjectView {
  id: string;
  name: string;
  preset: string;
  createdAt: string;
  /** Per section: how it moves (`up`, `down` from `sourceEnvId`, or `local`). */
  flowRules: FlowRules;
  /** Changes whenever the flow rules change: sent back as `expectedVersion` with a change. */
  flowRulesVersion: string;
  environments: EnvironmentView[];
}

/** GET /projects. */
export interface ProjectsView {
  projects: ProjectView[];
}

/** GET /projects/:id/my-roles: the caller's roles per environment id ("*": every environment). */
export interface MyRolesView {
  roles: Record<string, Role[]>;
  isProjectAdmin: boolean;
}
