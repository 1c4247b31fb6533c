import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for secrets at rest: iv (12) ‖ tag (16) ‖ ciphertext. The additional data binds
 * a sealed value to its environment and name, so a row copied to another slot does not open.
 */
export function createSealer(key: Buffer) {
  if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
  // A separate key for fingerprints, so a fingerprint says nothing about the encryption key.
  const fingerprintKey = createHmac('sha256', key)
    .update('stagecoach secret fingerprint v1')
    .digest();
  return {
    /** A keyed hash of a value: equal values compare equal, and without the key nothing can be guessed from it. */
    fingerprint(plaintext: string): string {
      return createHmac('sha256', fingerprintKey).update(plaintext, 'utf8').digest('hex');
    },
    seal(plaintext: string, slot: string): Buffer {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(slot));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), ct]);
    },
    open(sealed: Buffer, slot: string): string {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      decipher.setAAD(Buffer.from(slot));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

export type Sealer = ReturnType<typeof createSealer>;
