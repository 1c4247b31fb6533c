import type { Principal, Accounts } from '../domain/accounts.ts';
import type { Projects } from '../domain/projects.ts';
import type { Rooms } from '../collab/rooms.ts';

export interface AppDeps {
  accounts: Accounts;
  projects: Projects;
  rooms: Rooms;
  allowedOrigins: readonly string[];
  maxBodyBytes: number;
  sessionTtlMs: number;
  secureCookies: boolean;
  log: (msg: string, err?: unknown) => void;
}

export interface AppEnv {
  Variables: { principal: Principal };
}
