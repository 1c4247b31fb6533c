import { randomBytes } from 'node:crypto';
import { sha256 } from '../lib/hash.ts';

/** Random, URL-safe ids with a readable prefix (`prj_…`, `env_…`). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** An unguessable secret token (256 bits) with a prefix that tells what it is. */
export function newSecretToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Secret tokens are stored only as their SHA-256. */
export const hashToken = sha256;
