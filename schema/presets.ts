import type { Section } from './content/spec.ts';
import type { FlowTemplate } from './flow.ts';

/** Pipeline presets: the stages a new project starts with. The first stage is the authoring one. */
export const ENVIRONMENT_KINDS = ['dev', 'test', 'uat', 'staging', 'production', 'custom'] as const;
export type EnvironmentKind = (typeof ENVIRONMENT_KINDS)[number];

export interface StageTemplate {
  name: string;
  kind: EnvironmentKind;
  color: string;
}

export const PRESETS = {
  'five-stage': {
    label: 'Five stages: DEV → TEST → UAT → STAGING → PRODUCTION',
    stages: [
      { name: 'DEV', kind: 'dev', color: '#2563eb' },
      { name: 'TEST', kind: 'test', color: '#7c3aed' },
      { name: 'UAT', kind: 'uat', color: '#d97706' },
      { name: 'STAGING', kind: 'staging', color: '#0d9488' },
      { name: 'PRODUCTION', kind: 'production', color: '#dc2626' },
    ],
  },
  'three-stage': {
    label: 'Three stages: Staging → UAT → Production',
    /** Knowledge is set up in Production (and UAT, to try it) and flows down: Production → UAT → Staging. */
    flow: { knowledge: { direction: 'down', sourcePosition: 2, editablePositions: [2, 1] } },
    stages: [
      { name: 'Staging', kind: 'staging', color: '#0d9488' },
      { name: 'UAT', kind: 'uat', color: '#d97706' },
      { name: 'Production', kind: 'production', color: '#dc2626' },
    ],
  },
} as const satisfies Record<
  string,
  { label: string; stages: readonly StageTemplate[]; flow?: Partial<Record<Section, FlowTemplate>> }
>;

/** A preset's flow rules by stage position (none: every section moves up). */
export const presetFlow = (id: PresetId): Partial<Record<Section, FlowTemplate>> => {
  const preset = PRESETS[id];
  return 'flow' in preset
    ? (structuredClone(preset.flow) as Partial<Record<Section, FlowTemplate>>)
    : {};
};

export type PresetId = keyof typeof PRESETS;
export const PRESET_IDS = Object.keys(PRESETS) as [PresetId, ...PresetId[]];
export const DEFAULT_PRESET: PresetId = 'five-stage';
