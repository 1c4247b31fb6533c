import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '#server/domain/passwords.ts';
import { hashToken, newSecretToken } from '#server/domain/ids.ts';

describe('password hashing (argon2id from node:crypto)', () => {
  it('stores a salted PHC string and verifies only the right password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[\w-]+\$[\w-]+$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('correct horse', 'garbage')).toBe(false);
  });

  it('makes 256-bit tokens and stores only their SHA-256', () => {
    const t = newSecretToken('sct');
    expect(t).toMatch(/^sct_[\w-]{43}$/);
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).not.toContain(t);
  });
});
