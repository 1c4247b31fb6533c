import { AppError } from '#schema/errors.ts';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

/**
 * Weak passwords are refused by an estimator of how guessable they are (zxcvbn-ts: common
 * passwords, dictionary words, names, keyboard patterns, dates, repeats, l33t), not by
 * composition rules. Score 3 of 4 ("safely unguessable: moderate protection from an offline
 * slow-hash attack", < 10^10 guesses) is required: our hashes are argon2id, so 3 holds, and 4
 * would refuse many four-word passphrases people can remember.
 */
export const MIN_SCORE = 3;
/**
 * Bounds on the estimator's work, which runs on the event loop and grows fast with the length
 * and with the characters it may read as l33t (measured on 64 characters of symbols: ~1 s with
 * the library's defaults of 256 characters and 100 substitutions, ~30 ms with these). Only the
 * first 64 characters are estimated (a longer password is at least as strong as its prefix),
 * and at most 4 l33t substitutions are tried ("p4ssw0rd" needs 2).
 */
export const MAX_ESTIMATED_CHARS = 64;
const L33T_MAX_SUBSTITUTIONS = 4;

let estimator: Promise<ZxcvbnFactory> | null = null;

/** The dictionaries (a few MB) load once, on the first check, not at start-up. */
function load(): Promise<ZxcvbnFactory> {
  estimator ??= (async () => {
    const [{ ZxcvbnFactory }, common, en] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    return new ZxcvbnFactory({
      dictionary: { ...common.dictionary, ...en.dictionary },
      graphs: common.adjacencyGraphs,
      translations: en.translations,
      maxLength: MAX_ESTIMATED_CHARS,
      l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS,
    });
  })();
  return estimator;
}

/**
 * Throws `weak_password` saying why (the estimator's warning and suggestions) unless the
 * password scores at least MIN_SCORE. `userInputs` (email, name) count as known words: a
 * password built from the person's own name or address is easy to guess for anyone who knows them.
 */
export async function assertStrongPassword(
  password: string,
  userInputs: readonly string[],
): Promise<void> {
  const zxcvbn = await load();
  const inputs = userInputs
    .flatMap((s) => [s, ...s.toLowerCase().split(/[^\p{L}\p{N}]+/u)])
    .filter((s) => s.length >= 3)
    .slice(0, 20);
  const result = zxcvbn.check(password.slice(0, MAX_ESTIMATED_CHARS), inputs);
  if (result.score >= MIN_SCORE) return;
  const { warning, suggestions } = result.feedback;
  const why = [warning, ...suggestions].filter(Boolean).join(' ');
  throw new AppError(
    'weak_password',
    `This password is too easy to guess. ${why || 'Choose a longer one, or a few unrelated words.'}`,
    {
      score: result.score,
      minScore: MIN_SCORE,
      warning: warning ?? null,
      suggestions,
    },
  );
}
