/**
 * What the server may believe about where a request came from. Behind a reverse proxy
 * (TRUST_PROXY=true) the socket is the proxy's, so the address and scheme come from the
 * headers the proxy sets; otherwise those headers are anyone's to forge and are ignored.
 */
export interface Hop {
  /** The socket's peer address (the proxy's, behind one). */
  socketAddress: string | undefined;
  /** The socket is TLS. */
  encrypted: boolean;
  forwardedFor: string | string[] | undefined;
  forwardedProto: string | string[] | undefined;
}

const first = (v: string | string[] | undefined): string | undefined =>
  Array.isArray(v) ? v.join(',') : v;

/**
 * The client's address. Behind a trusted proxy: the LAST entry of X-Forwarded-For, the one our
 * proxy appended; every entry before it was sent by the client and may be forged.
 */
export function clientAddress(hop: Hop, trustProxy: boolean): string {
  if (trustProxy) {
    const last = first(hop.forwardedFor)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .at(-1);
    if (last) return last.slice(0, 64);
  }
  return hop.socketAddress ?? 'unknown';
}

/** The scheme the browser used: TLS on our socket, or (behind a trusted proxy) X-Forwarded-Proto. */
export function requestScheme(hop: Hop, trustProxy: boolean): 'http' | 'https' {
  if (hop.encrypted) return 'https';
  const proto = first(hop.forwardedProto)?.split(',').at(-1)?.trim().toLowerCase();
  return trustProxy && proto === 'https' ? 'https' : 'http';
}

/**
 * The hop of a Node request (Hono on @hono/node-server keeps it as `c.env.incoming`; the websocket
 * upgrade has it directly).
 */
export function hopOf(
  req:
    | {
        socket?: { remoteAddress?: string; encrypted?: boolean } | null;
        headers: Record<string, string | string[] | undefined>;
      }
    | undefined,
): Hop {
  return {
    socketAddress: req?.socket?.remoteAddress,
    encrypted: req?.socket?.encrypted === true,
    forwardedFor: req?.headers['x-forwarded-for'],
    forwardedProto: req?.headers['x-forwarded-proto'],
  };
}

type NodeEnv =
  | { incoming?: { socket?: { remoteAddress?: string; encrypted?: boolean; localPort?: number } } }
  | undefined;

/** The hop of a request served by Hono on @hono/node-server (`c.env.incoming`; absent under `app.request()`). */
export function hopOfContext(c: {
  env: unknown;
  req: { header(name: string): string | undefined };
}): Hop {
  const socket = (c.env as NodeEnv)?.incoming?.socket;
  return {
    socketAddress: socket?.remoteAddress,
    encrypted: socket?.encrypted === true,
    forwardedFor: c.req.header('x-forwarded-for'),
    forwardedProto: c.req.header('x-forwarded-proto'),
  };
}
