import net from 'node:net';

/**
 * A TCP proxy to `target` that passes server → client bytes at `bytesPerSecond` (client →
 * server unthrottled): a slow downlink, for large-document tests.
 */
export async function throttledProxy(
  target: { host: string; port: number },
  bytesPerSecond: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      upstream.pause();
      // Pass the chunk in slices of 1/20 s worth of bytes, each slice after its time.
      const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
      let offset = 0;
      const next = () => {
        if (client.destroyed) return;
        if (offset >= chunk.length) return void upstream.resume();
        const part = chunk.subarray(offset, offset + slice);
        offset += part.length;
        client.write(part);
        setTimeout(next, (part.length / bytesPerSecond) * 1000);
      };
      next();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
