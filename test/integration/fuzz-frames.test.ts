import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { CLOSE } from '#schema/errors.ts';
import { addItem, draftContent } from '#schema/content/ydoc.ts';
import { sampleContent } from '#schema/content/sample.ts';
import { encodeUpdate } from '#server/collab/protocol.ts';
import { connect, synced, until, wsUrl, type Client } from '../helpers/clients.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { prng } from '../helpers/prng.ts';

/**
 * Hostile clients from raw frames (R7). FUZZ_FRAMES=10000 (npm run soak) for the long run;
 * npm test runs a few hundred. Every frame goes to a connection of its own kind; afterwards
 * nothing was written, and a well-behaved client was served throughout.
 */
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 400);
const LIMIT = 64 * 1024;

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let token: string;
let draftId: string;
let envId: string;
let good: Client;

beforeAll(async () => {
  server = await startTestServer(undefined, { COLLAB_MAX_FRAME_BYTES: String(LIMIT) });
  token = (await setupAdmin(server.url)).token;
  const project = await newProject(overTheWire(server.url, token));
  draftId = project.environments[0]!.draftId!;
  envId = project.environments[0]!.id;
  await overTheWire(server.url, token).call(
    'PUT',
    `/api/environments/${envId}/content`,
    sampleContent(),
  );
  good = connect(server.url, draftId, { token });
  await synced(good);
});
afterAll(async () => {
  good?.destroy();
  await server?.close();
});

const logRows = () => {
  const db = new Database(path.join(server.dataDir, 'stagecoach.sqlite'), { readonly: true });
  try {
    return (
      (db.prepare('SELECT count(*) AS n FROM draft_updates').get() as { n: number }).n +
      (db.prepare('SELECT count(*) AS n FROM draft_states').get() as { n: number }).n * 1e6
    );
  } finally {
    db.close();
  }
};

/** Sends one frame on a fresh connection; resolves with the close code, or 0 if it stayed open. */
function send(frame: Uint8Array | string, query = ''): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsUrl(server.url)}/${draftId}?token=${token}${query}`);
    let settled = false;
    const done = (code: number) => {
      if (settled) return;
      settled = true;
      resolve(code);
      ws.terminate();
    };
    ws.once('close', (code) => done(code));
    ws.once('error', () => undefined);
    ws.once('open', () => {
      ws.send(frame);
      // A frame the server accepts gets nothing back; wait for its answer to a ping instead of a timer.
      ws.ping();
      ws.once('pong', () => setImmediate(() => done(0)));
    });
  });
}

describe('[R7] thousands of fuzzed frames change nothing and stop nobody', () => {
  it(`[R7] ${FRAMES} hostile frames: random, truncated, oversized, read-only writes, huge awareness`, async () => {
    const before = { content: JSON.stringify(draftContent(good.doc)), log: logRows() };
    const rnd = prng(99);
    const valid = Y.encodeStateAsUpdate(good.doc);
    const codes = new Map<string, number[]>();
    const note = (kind: string, code: number) =>
      codes.set(kind, [...(codes.get(kind) ?? []), code]);

    for (let i = 0; i < FRAMES; i++) {
      const kind = ['random', 'truncated', 'oversized', 'readonly', 'awareness', 'text'][i % 6]!;
      if (kind === 'random') {
        const bytes = new Uint8Array(1 + Math.floor(rnd() * 200));
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256);
        // Never a real message type by accident: one varint byte of 4..127 is an unknown type.
        bytes[0] = 4 + Math.floor(rnd() * 124);
        note(kind, await send(bytes));
      } else if (kind === 'truncated') {
        const f = encodeUpdate(valid);
        note(kind, await send(f.slice(0, 2 + Math.floor(rnd() * (f.length - 3)))));
      } else if (kind === 'oversized') {
        note(kind, await send(new Uint8Array(LIMIT + 1 + Math.floor(rnd() * 1000))));
      } else if (kind === 'readonly') {
        const doc = new Y.Doc();
        Y.applyUpdate(doc, valid);
        addItem(doc, 'agents', { name: `sneaky ${i}` });
        note(
          kind,
          await send(
            encodeUpdate(Y.encodeStateAsUpdate(doc, Y.encodeStateVector(good.doc))),
            '&mode=read',
          ),
        );
      } else if (kind === 'awareness') {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 1);
        const inner = encoding.createEncoder();
        encoding.writeVarUint(inner, 1);
        encoding.writeVarUint(inner, 1000 + i);
        encoding.writeVarUint(inner, 1);
        encoding.writeVarString(inner, JSON.stringify({ user: { name: 'x'.repeat(LIMIT) } }));
        encoding.writeVarUint8Array(e, encoding.toUint8Array(inner));
        note(kind, await send(encoding.toUint8Array(e)));
      } else {
        note(kind, await send('not binary'));
      }
    }

    expect(new Set(codes.get('random'))).toEqual(new Set([CLOSE.malformed_message]));
    expect(new Set(codes.get('truncated'))).toEqual(new Set([CLOSE.malformed_message]));
    expect(new Set(codes.get('oversized'))).toEqual(new Set([CLOSE.frame_too_large]));
    expect(new Set(codes.get('readonly'))).toEqual(new Set([CLOSE.read_only]));
    expect(new Set(codes.get('awareness'))).toEqual(new Set([CLOSE.frame_too_large]));
    expect(new Set(codes.get('text'))).toEqual(new Set([CLOSE.malformed_message]));

    // Nothing was written, and the good client is still served.
    expect(logRows()).toBe(before.log);
    expect(JSON.stringify(draftContent(good.doc))).toBe(before.content);
    const id = addItem(good.doc, 'knowledge', { title: 'Still here', body: 'yes' });
    const watcher = connect(server.url, draftId, { token });
    await synced(watcher);
    await until(watcher.doc, (d) => d.getMap('knowledge').has(id));
    watcher.destroy();
  });
});
