import { describe, expect, it } from 'vitest';
import { assertStrongPassword } from '#server/domain/password-strength.ts';

/** SEC-20: the estimator runs on the event loop, so its cost per call is bounded whatever the input. */
describe('SEC-20 password estimator cost', () => {
  it('SEC-20 adversarial passwords of any length are estimated in bounded time, and P@ssw0rd-style l33t is still caught', async () => {
    await assertStrongPassword('violet tractor sunbeam ledger', []); // loads the dictionaries once
    const symbols = Array.from({ length: 10_000 }, (_, i) =>
      String.fromCharCode(33 + ((i * 7) % 90)),
    ).join('');
    const inputs = [
      symbols,
      '1234567890'.repeat(1000),
      'P@ssw0rd'.repeat(1000),
      '19701970'.repeat(1000),
      '4@83€6#1!|0$5+7'.repeat(700),
      'a'.repeat(100_000),
    ];
    let worst = 0;
    for (const password of inputs) {
      const start = performance.now();
      await assertStrongPassword(password, ['ada@example.com', 'Ada']).catch(() => undefined);
      worst = Math.max(worst, performance.now() - start);
    }
    console.log(`SEC-20 worst estimator call: ${worst.toFixed(1)} ms`);
    // Generous for 2 busy cores; the library's defaults took ~1-7 s on these inputs.
    expect(worst).toBeLessThan(500);
    for (const weak of ['P@ssw0rd!', 'p4ssw0rd2024', 'Password123!', 'qwerty123456'])
      await expect(assertStrongPassword(weak, []), weak).rejects.toMatchObject({
        id: 'weak_password',
      });
  });
});
