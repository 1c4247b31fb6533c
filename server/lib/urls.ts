/**
 * Absolute URLs for links people are sent (share links, invitations, password resets). They
 * come from configuration (PUBLIC_URL), never from the request's Host header: a client
 * chooses that header, and a link minted under `Host: evil.example` would hand the secret
 * token in it to whoever runs evil.example.
 */
export function absoluteUrl(publicUrl: string, path: string): string {
  // PUBLIC_URL may carry a path (served under a prefix); it never ends with a slash (config.ts).
  return `${publicUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/**
 * The base without PUBLIC_URL: the interface the server listens on and its bound port
 * (PORT=0 in tests), `localhost` when it listens on every interface.
 */
export function defaultPublicUrl(host: string, port: number): string {
  const name =
    host === '0.0.0.0' || host === '::' || host === ''
      ? 'localhost'
      : host.includes(':')
        ? `[${host}]`
        : host;
  return `http://${name}:${port}`;
}
