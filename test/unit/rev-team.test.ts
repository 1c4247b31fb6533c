import { describe, expect, it } from 'vitest';
import { gateChanges, kindLabel, ruleInWords, stageChanges } from '#web/lib/team-changes.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import type { FlowRules } from '#schema/flow.ts';

/** REV-50: the team pages' one-button forms send only what changed, and read in words. */
const envs = [
  { id: 'env_a', name: 'DEV', kind: 'dev', color: '#2563eb' },
  { id: 'env_b', name: 'TEST', kind: 'test', color: '#7c3aed' },
  { id: 'env_c', name: 'PRODUCTION', kind: 'production', color: '#dc2626' },
];

describe('REV-50 team forms', () => {
  it('[REV-50] the Stages form sends only the stages that changed, in order, with only what changed', () => {
    const edited = Object.fromEntries(envs.map((e) => [e.id, { ...e }]));
    expect(stageChanges(envs, edited)).toEqual([]);
    edited.env_c = { ...edited.env_c!, name: '  Live  ', color: '#DC2626' };
    edited.env_b = { ...edited.env_b!, kind: 'uat' };
    expect(stageChanges(envs, edited)).toEqual([
      { envId: 'env_b', name: 'TEST', patch: { kind: 'uat' } },
      { envId: 'env_c', name: 'PRODUCTION', patch: { name: 'Live' } },
    ]);
    // A stage the form does not hold (added since it loaded) is not sent.
    expect(stageChanges([...envs, { ...envs[0]!, id: 'env_new' }], edited)).toHaveLength(2);
  });

  it('[REV-50] [CHK-1] the Gates form sends only the gates that changed, each whole (required checks included); approvals typed as text count as numbers', () => {
    const stored = {
      env_b: { requiredApprovals: 1, allowSelfApproval: false, requiredChecks: ['evals'] },
      env_c: { requiredApprovals: 2, allowSelfApproval: false, requiredChecks: [] },
    };
    const edited = {
      env_b: {
        requiredApprovals: '1' as unknown as number,
        allowSelfApproval: false,
        requiredChecks: ['evals'],
      },
      env_c: { requiredApprovals: 2, allowSelfApproval: true, requiredChecks: [] },
    };
    expect(gateChanges(stored, edited)).toEqual([
      {
        envId: 'env_c',
        gate: { requiredApprovals: 2, allowSelfApproval: true, requiredChecks: [] },
      },
    ]);
    expect(gateChanges(stored, stored)).toEqual([]);
    // A change of checks alone is a change, and the approvals go with it unchanged.
    expect(
      gateChanges(stored, {
        ...stored,
        env_b: { ...stored.env_b, requiredChecks: ['evals', 'regression'] },
      }),
    ).toEqual([
      {
        envId: 'env_b',
        gate: {
          requiredApprovals: 1,
          allowSelfApproval: false,
          requiredChecks: ['evals', 'regression'],
        },
      },
    ]);
  });

  it('[REV-50] stage kinds and flow rules read in words, never as ids', () => {
    expect(kindLabel('uat')).toBe('User acceptance');
    expect(kindLabel('something-else')).toBe('Other');
    const flowRules = Object.fromEntries(
      SECTIONS.map((s) => [s, { direction: 'up' }]),
    ) as unknown as FlowRules;
    flowRules.channels = { direction: 'local' };
    flowRules.knowledge = {
      direction: 'down',
      sourceEnvId: 'env_c',
      editableEnvIds: ['env_c', 'env_a'],
    };
    const project = { flowRules, environments: envs as never };
    expect(ruleInWords(project, 'agents')).toBe('moves up by Sync');
    expect(ruleInWords(project, 'channels')).toBe('stays in each stage');
    expect(ruleInWords(project, 'knowledge')).toBe(
      'flows down from PRODUCTION, also edited in DEV',
    );
    flowRules.knowledge = { direction: 'down', sourceEnvId: 'env_gone' };
    expect(ruleInWords(project, 'knowledge')).toBe('flows down from a removed stage');
  });
});
