import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '#schema/errors.ts';
import { CLI_ERRORS, ERROR_EXIT, EXIT, exitCodeOf } from '../../cli/exit-codes.ts';

describe('CLI exit codes', () => {
  it('CLI-3 every error id of schema/errors.ts has an exit code (a new id fails here until it is placed)', () => {
    expect(Object.keys(ERROR_EXIT).sort()).toEqual(Object.keys(ERRORS).sort());
    const codes = new Set<number>(Object.values(EXIT));
    for (const [id, code] of Object.entries(ERROR_EXIT)) expect(codes.has(code), id).toBe(true);
    // The named cases.
    for (const id of ['target_moved', 'source_moved', 'approval_voided', 'would_undo_hotfix'])
      expect(exitCodeOf(id)).toBe(6);
    for (const id of ['draft_has_problems', 'audience_missing', 'checks_failed'])
      expect(exitCodeOf(id)).toBe(8);
    expect(exitCodeOf('approval_required')).toBe(7);
    expect(exitCodeOf('nothing_to_sync')).toBe(9);
    expect(exitCodeOf('storage_unavailable')).toBe(11);
    expect(exitCodeOf('rate_limited')).toBe(11);
    expect(exitCodeOf('unauthenticated')).toBe(3);
    expect(exitCodeOf('forbidden')).toBe(4);
    expect(exitCodeOf('internal')).toBe(1);
    expect(CLI_ERRORS.wait_timeout).toBe(10);
    expect(CLI_ERRORS.history_broken).toBe(6);
    // An id this CLI does not know yet (a newer server): by its HTTP status.
    expect(exitCodeOf('some_new_id', 404)).toBe(5);
    expect(exitCodeOf('some_new_id', 503)).toBe(11);
  });

  it('CLI-10 cli/api.d.ts is what openapi-typescript makes of the OpenAPI document (npm run openapi:client)', () => {
    const out = execFileSync(process.execPath, ['scripts/openapi-client.ts', '--check'], {
      encoding: 'utf8',
    });
    expect(out).toContain('matches');
  });
});
