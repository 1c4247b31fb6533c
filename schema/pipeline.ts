/**
 * A project's stages in order: the first authors (it has a draft, not a pointer), the last is
 * production (it has a live pointer besides its current one). Stated once here for the server
 * and the web.
 */

/** The authoring stage: the first, whose draft is edited and synced out. */
export const isAuthoring = (env: { position: number }): boolean => env.position === 0;

/** Production: the last stage of its project. */
export const isProduction = (
  env: { position: number },
  project: { environments: readonly unknown[] },
): boolean => env.position === project.environments.length - 1;

/** A project's authoring stage (its first). */
export const authoringOf = <E>(environments: readonly E[]): E | undefined => environments[0];

/** A project's production stage (its last). */
export const productionOf = <E>(environments: readonly E[]): E | undefined =>
  environments[environments.length - 1];

/**
 * The open draft an environment edits in (authoring or section), never a hotfix draft: at most
 * one per environment.
 */
export const openDraftOf = <
  D extends { environmentId: string; closedAt: number | null; kind: string },
>(
  drafts: readonly D[],
  envId: string,
): D | undefined =>
  drafts.find(
    (d) =>
      d.environmentId === envId &&
      d.closedAt === null &&
      (d.kind === 'authoring' || d.kind === 'section'),
  );
