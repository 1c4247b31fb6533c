import { describe, expect, it } from 'vitest';
import { ALL_ROLES, can } from '#schema/permissions.ts';
import { PRESETS } from '#schema/presets.ts';

describe('[R1] content is edited only in drafts', () => {
  it('[R1] never allows content.edit where there is no draft, whatever the roles', () => {
    expect(can(ALL_ROLES, 'content.edit', { hasDraft: false })).toBe(false);
    expect(can(ALL_ROLES, 'content.edit', { hasDraft: true })).toBe(true);
    expect(can(['viewer'], 'content.edit', { hasDraft: true })).toBe(false);
    expect(can(['viewer'], 'content.read', { hasDraft: false })).toBe(true);
  });

  it('[FLOW-1] has the two presets of the reference products, authoring stage first', () => {
    expect(PRESETS['five-stage'].stages.map((s) => s.name)).toEqual([
      'DEV',
      'TEST',
      'UAT',
      'STAGING',
      'PRODUCTION',
    ]);
    expect(PRESETS['three-stage'].stages.map((s) => s.name)).toEqual([
      'Staging',
      'UAT',
      'Production',
    ]);
  });
});
