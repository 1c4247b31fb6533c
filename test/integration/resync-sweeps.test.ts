import { describe, expect, it } from 'vitest';
import { Listeners, type ClusterBus } from '#server/cluster/bus.ts';
import { createServices } from '#server/start.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { tempDataDir, testConfig } from '../helpers/server.ts';

const cleanup = cleanupAfterEach();

/** A bus whose resyncs the test makes (as a Redis that keeps dropping this process's clients would). */
function flappingBus() {
  const listeners = new Listeners(() => {});
  const bus: ClusterBus = {
    publish: (message) => listeners.deliver(message),
    on: (type, listener) => listeners.on(type, listener),
    onResynced: (listener) => listeners.onResynced(listener),
    counts: () => ({ ...listeners.counts }),
    close: async () => {},
  };
  return { bus, resynced: () => listeners.resynced() };
}

describe('PG-113: resyncs while a sweep runs make one more sweep, not one each', () => {
  it('PG-113 a thousand resyncs in one tick run two sweeps (the one they interrupt and one more); a later resync runs its own', async () => {
    const { bus, resynced } = flappingBus();
    const services = createServices(testConfig(tempDataDir()), { bus });
    cleanup.push(() => services.database.close());
    let sweeps = 0;
    const revalidate = services.credentials.revalidate.bind(services.credentials);
    services.credentials.revalidate = async (...args) => {
      sweeps++;
      return await revalidate(...args);
    };

    for (let i = 0; i < 1000; i++) resynced();
    await services.resyncing();
    expect(sweeps).toBe(2);

    resynced();
    await services.resyncing();
    expect(sweeps).toBe(3);
  });
});
