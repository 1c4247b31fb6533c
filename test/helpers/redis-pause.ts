import { createClient } from 'redis';
import type { ThrowawayRedis } from './redis.ts';

/**
 * Pauses a throwaway Redis (SIGSTOP): it keeps its connections open but answers nothing, as a
 * Redis that hangs. Returns its resume (SIGCONT), also pushed onto cleanup.
 */
export async function pauseRedis(
  redis: ThrowawayRedis,
  cleanup: (() => unknown)[],
): Promise<() => void> {
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
  const info = await client.info('server');
  client.destroy();
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  process.kill(pid, 'SIGSTOP');
  let paused = true;
  const resume = () => {
    if (!paused) return;
    paused = false;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Killed (or restarted) while paused: nothing left to resume.
    }
  };
  cleanup.push(resume);
  return resume;
}
