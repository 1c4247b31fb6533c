import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sampleContent } from '#schema/content/sample.ts';
import { validateContent } from '#schema/content/validate.ts';
import { readTemplate } from '#schema/content/templates.ts';
import { isEmailAddress } from '#schema/email.ts';
import { CreateUserBody } from '#schema/api.ts';
import {
  adversarialAddresses,
  adversarialTexts,
  hostileContent,
  timed,
} from '../helpers/hostile.ts';
import { prng } from '../helpers/prng.ts';

/** SEC-5: every check on user text is linear (1 MB of adversarial text, each well under a second). */
describe('SEC-5 linear validation', () => {
  it('SEC-5 validateContent takes well under a second on 1 MB of adversarial text in every template and pattern field', async () => {
    for (const [name, text] of Object.entries(adversarialTexts())) {
      for (const [addressName, address] of Object.entries(adversarialAddresses())) {
        const { ms, result } = await timed(() => validateContent(hostileContent(text, address)));
        console.log(`SEC-5 validateContent, ${name} / ${addressName}: ${ms.toFixed(1)} ms`);
        expect(ms, `${name} / ${addressName}`).toBeLessThan(3000);
        // Length is checked first: the pattern never ran on the megabyte.
        expect(result).toContainEqual(
          expect.objectContaining({ field: 'address', code: 'too_long' }),
        );
        expect(result.every((p) => p.message.length < 1000)).toBe(true);
      }
    }
  });

  it('SEC-5 many malformed items are reported in linear time', async () => {
    // About 650 KB of items whose fields all have the wrong type: every problem used to be compared
    // with every malformed one.
    const c = sampleContent();
    for (let i = 0; i < 10_000; i++)
      c.agents[`a${i}`] = {
        name: 1,
        instructions: 2,
        fallbackMessage: 3,
        tone: 4,
        integrations: 5,
      } as never;
    const { ms, result } = await timed(() => validateContent(c));
    console.log(
      `SEC-5 validateContent, 10,000 malformed agents: ${ms.toFixed(1)} ms, ${result.length} problems`,
    );
    expect(ms).toBeLessThan(3000);
    // Each malformed field once, as malformed (not also as missing).
    expect(result).toHaveLength(50_000);
    expect(result.every((p) => p.code === 'type')).toBe(true);
  });

  it('SEC-5 templates keep their meaning', async () => {
    const templateReferences = (t: string) => readTemplate(t).references;
    const hasUnbalancedBraces = (t: string) => readTemplate(t).unbalanced;
    expect(
      templateReferences('Hi {{ name }}, {{user.email}} {{x y}} {{}} {{{z}}} {{\tw\n}}'),
    ).toEqual(['name', 'user.email', '', 'z', 'w']);
    expect(hasUnbalancedBraces('Hello {{name')).toBe(true);
    expect(hasUnbalancedBraces('Hello name}}')).toBe(true);
    expect(hasUnbalancedBraces('{{ a b }}')).toBe(true);
    expect(hasUnbalancedBraces('{{{x}}}')).toBe(false);
    expect(hasUnbalancedBraces('{{{{x}}}}')).toBe(true);
    expect(hasUnbalancedBraces('{{a}}{{\u00a0b\u3000}}')).toBe(false);
    expect(hasUnbalancedBraces('{ x } {{y}}')).toBe(false);
    for (const text of Object.values(adversarialTexts()))
      expect((await timed(() => hasUnbalancedBraces(text))).ms).toBeLessThan(1000);
  });

  it('SEC-5 the email scanner accepts exactly what z.email() accepted (seeded random addresses)', () => {
    const random = prng(7);
    const alphabet = ['a', 'B', '1', '.', '@', '-', "'", '+', '_', ' ', 'é', 'co'];
    for (let n = 0; n < 20_000; n++) {
      const text = Array.from(
        { length: 1 + Math.floor(random() * 12) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
      expect(isEmailAddress(text), JSON.stringify(text)).toBe(z.regexes.email.test(text));
    }
  });

  it('SEC-5 the template scanner finds exactly what the old pattern found (seeded random texts)', () => {
    // The old, backtracking pattern: fine on short texts, so it is the reference here.
    const OLD = /\{\{\s*([^{}\s]*)\s*\}\}/g;
    const random = prng(12);
    const alphabet = ['{', '}', ' ', '\t', '\u3000', 'a', 'b.c', '_'];
    for (let n = 0; n < 20_000; n++) {
      const text = Array.from(
        { length: Math.floor(random() * 14) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
      const stripped = text.replace(OLD, '');
      expect(readTemplate(text), JSON.stringify(text)).toEqual({
        references: [...text.matchAll(OLD)].map((m) => m[1]),
        unbalanced: stripped.includes('{{') || stripped.includes('}}'),
      });
    }
  });

  it('SEC-5 email addresses are checked in linear time, length first, with the same answers', async () => {
    for (const ok of ['a@b.co', 'first.last+tag@mail.example.com', "o'neil@x.io", 'a-b_c@d-e.f.gh'])
      expect(isEmailAddress(ok), ok).toBe(true);
    for (const bad of [
      '',
      'a',
      'a@b',
      'a@@b.c',
      'a b@c.d',
      '@b.c',
      'a@.',
      'a@b.',
      'a@.b',
      'a..b@c.de',
      '.a@b.cd',
      "a'@b.cd",
      'a@-b.cd',
      'a@b.c1',
      'a@b..cd',
      `${'a'.repeat(250)}@b.cd`,
    ]) {
      expect(isEmailAddress(bad), bad).toBe(false);
    }
    for (const address of Object.values(adversarialAddresses())) {
      expect((await timed(() => isEmailAddress(address))).ms).toBeLessThan(1000);
      const { ms, result } = await timed(() =>
        CreateUserBody.safeParse({
          email: address,
          password: 'violet tractor sunbeam ledger',
          name: 'Eve',
        }),
      );
      console.log(`SEC-5 account email schema on ${address.length} bytes: ${ms.toFixed(1)} ms`);
      expect(ms).toBeLessThan(1000);
      expect(result.success).toBe(false);
    }
  });
});
