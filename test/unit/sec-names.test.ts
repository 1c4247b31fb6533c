import { describe, expect, it } from 'vitest';
import {
  CreateProjectBody,
  CreateUserBody,
  InvitationBody,
  SetupBody,
  StagePatchBody,
} from '#schema/api.ts';
import { PRESETS } from '#schema/presets.ts';
import { EnvironmentSettings, FeedbackBody, RuntimeKeyBody, ShareLinkBody } from '#schema/local.ts';
import { displayName, lookAlikes, nameKey } from '#schema/names.ts';
import { PASSPHRASE } from '../helpers/users.ts';

/** SEC-14: names that look alike are refused. */
const EvaluatorsShape = EnvironmentSettings.shape.evaluators;
const stage = (name: string) => ({ name, kind: 'custom', color: '#123456' });
const HIDDEN = {
  'zero-width space': 'PRODUCTION\u200b',
  'zero-width joiner inside': 'PROD\u200dUCTION',
  'right-to-left override': 'PROD\u202eNOITCU',
  'left-to-right isolate': '\u2066PRODUCTION',
  'soft hyphen': 'PRODUC\u00adTION',
  'word joiner': 'PRODUCTION\u2060',
  'Hangul filler': 'PRODUCTION\u3164',
  'variation selector': 'PRODUCTION\ufe0f',
  'tag character': 'PRODUCTION\u{e0041}',
  'control character': 'PRODUCTION\u0007',
  'private use': 'PRODUCTION\ue000',
};

describe('SEC-14 display names', () => {
  it('SEC-14 invisible and bidi-control characters are refused in stage, user and project names, with the path and why', () => {
    for (const [what, name] of Object.entries(HIDDEN)) {
      const created = CreateProjectBody.safeParse({
        name: 'Bots',
        preset: 'custom',
        stages: [stage('DEV'), stage(name)],
      });
      expect(created.success, what).toBe(false);
      expect(created.error!.issues[0]!.path, what).toEqual(['stages', 1, 'name']);
      expect(created.error!.issues[0]!.message, what).toMatch(
        /may not hold (an invisible character|a character that changes the writing direction|a control character) \(U\+[0-9A-F]{4,5}, character \d+\)/,
      );
      expect(StagePatchBody.safeParse({ name }).success, what).toBe(false);
      expect(CreateProjectBody.safeParse({ name }).success, what).toBe(false);
      expect(
        SetupBody.safeParse({ email: 'a@b.co', password: PASSPHRASE, name }).success,
        what,
      ).toBe(false);
      expect(
        CreateUserBody.safeParse({ email: 'a@b.co', password: PASSPHRASE, name }).success,
        what,
      ).toBe(false);
      expect(InvitationBody.safeParse({ email: 'a@b.co', name }).success, what).toBe(false);
    }
    expect(
      CreateProjectBody.safeParse({ name: 'PROD\u202eNOITCU' }).error!.issues[0]!.message,
    ).toContain('changes the writing direction (U+202E, character 5)');
  });

  it('SEC-14 the other names people read (runtime keys, share-link labels, evaluators, anonymous feedback authors) follow the same rule', () => {
    const evaluator = (name: string) => ({
      name,
      kind: 'keyword',
      criterion: 'x',
      threshold: 0.5,
      enabled: true,
    });
    for (const [what, name] of Object.entries(HIDDEN)) {
      expect(RuntimeKeyBody.safeParse({ name }).success, what).toBe(false);
      expect(ShareLinkBody.safeParse({ label: name }).success, what).toBe(false);
      expect(
        FeedbackBody.safeParse({
          section: 'agents',
          itemId: 'a1',
          author: name,
          text: 'Looks good',
        }).success,
        what,
      ).toBe(false);
      expect(EvaluatorsShape.safeParse([evaluator(name)]).success, what).toBe(false);
    }
    expect(
      FeedbackBody.parse({ section: 'agents', itemId: 'a1', author: ' Rene\u0301 ', text: 'ok' })
        .author,
    ).toBe('René');
    expect(EvaluatorsShape.safeParse([evaluator('Tone check')]).success).toBe(true);
  });

  it('SEC-14 emoji keep their joiners and presentation selectors (they draw nothing of their own), nothing else does', () => {
    for (const name of [
      'Support 👩\u200d💻',
      'Love ❤\ufe0f',
      'Team 👨🏽\u200d🚀',
      '#\ufe0f\u20e3 one',
    ]) {
      expect(CreateProjectBody.safeParse({ name }).success, name).toBe(true);
    }
    for (const name of ['A\u200d💻', '👩\u200dB', 'PROD\ufe0f', '👩\u200d\u200d💻'])
      expect(CreateProjectBody.safeParse({ name }).success, name).toBe(false);
  });

  it('SEC-14 names are NFC-normalized, with runs of white space made one space', () => {
    expect(
      SetupBody.parse({
        email: 'a@b.co',
        password: PASSPHRASE,
        name: ' Rene\u0301\u00a0\u00a0Dupont ',
      }).name,
    ).toBe('René Dupont');
    expect(StagePatchBody.parse({ name: 'Cafe\u0301\tQA' }).name).toBe('Café QA');
    expect(displayName(5).safeParse('Cafe\u0301s').success).toBe(true); // 6 code units, 5 characters after NFC
  });

  it('SEC-14 stage names are unique after normalization and case folding (and compatibility forms)', () => {
    for (const twin of ['production', 'Production ', 'ＰＲＯＤＵＣＴＩＯＮ', 'PRODUCTION\u2003']) {
      const r = CreateProjectBody.safeParse({
        name: 'Bots',
        preset: 'custom',
        stages: [stage('PRODUCTION'), stage('UAT'), stage(twin)],
      });
      expect(r.success, twin).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual(['stages', 2, 'name']);
    }
    expect(nameKey('Straße')).toBe(nameKey('STRASSE'));
    expect(nameKey('Cafe\u0301')).toBe(nameKey('CAFÉ'));
    expect(lookAlikes(['DEV', 'QA', 'dev', 'Qa', 'PROD'])).toEqual([2, 3]);
    expect(
      CreateProjectBody.safeParse({
        name: 'Bots',
        preset: 'custom',
        stages: [stage('DEV'), stage('DEV 2')],
      }).success,
    ).toBe(true);
  });

  it('SEC-14 every preset stage name is a valid display name, unique in its preset', () => {
    for (const preset of Object.values(PRESETS)) {
      for (const s of preset.stages) expect(displayName(40).parse(s.name)).toBe(s.name);
      expect(lookAlikes(preset.stages.map((s) => s.name))).toEqual([]);
    }
  });
});
