import fs from 'node:fs';

/**
 * DATA_DIR holds the database (every draft, hashed credentials, encrypted secrets) and the
 * secrets key: no other local account may read it. A folder or file that exists with wider
 * modes (an older version, a copy made with a default umask) is tightened, not refused, so an
 * upgrade does not stop the server; `log` says so once per path.
 */
export function privateDir(dir: string, log: (msg: string) => void): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  tighten(dir, 0o700, log);
}

/**
 * Creates the file empty if missing, so the first open already has owner-only modes (SQLite gives
 * -wal and -shm the database file's modes).
 */
export function privateFile(file: string, log: (msg: string) => void): void {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  tighten(file, 0o600, log);
}

/** Tightens an existing file (no-op if missing). */
export function tightenFile(file: string, log: (msg: string) => void): void {
  if (fs.existsSync(file)) tighten(file, 0o600, log);
}

function tighten(target: string, mode: number, log: (msg: string) => void): void {
  const current = fs.statSync(target).mode & 0o777;
  if ((current & ~mode) === 0) return;
  fs.chmodSync(target, current & mode);
  log(
    `${target} was readable by others (mode ${current.toString(8)}): now ${(current & mode).toString(8)}`,
  );
}
