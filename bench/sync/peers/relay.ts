// The floor of the sync benchmark: `node bench/sync/peers/relay.ts <port>`. No Yjs, no storage,
// no checks: each frame a client sends goes out as it is to every other client of the same room
// (the URL's path). A join's sync step 1 is answered with an empty sync step 2, so stock clients
// count as synced, and is not passed on. What any real server does above this is its overhead.
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.argv[2]);
/** y-websocket: message sync (0), sync step 2 (1), an update of 2 bytes: an empty document. */
const EMPTY_STEP2 = Buffer.from([0, 1, 2, 0, 0]);
const rooms = new Map<string, Set<WebSocket>>();

const wss = new WebSocketServer({ port, host: '127.0.0.1' });
wss.on('connection', (ws, req) => {
  const name = req.url ?? '/';
  let room = rooms.get(name);
  if (!room) rooms.set(name, (room = new Set()));
  const peers = room;
  peers.add(ws);
  ws.on('message', (data: Buffer, isBinary) => {
    if (data[0] === 0 && data[1] === 0) {
      ws.send(EMPTY_STEP2);
      return;
    }
    for (const other of peers) if (other !== ws) other.send(data, { binary: isBinary });
  });
  ws.on('close', () => {
    peers.delete(ws);
    if (peers.size === 0) rooms.delete(name);
  });
});
wss.on('listening', () => console.log(`running at http://127.0.0.1:${port} `));
