import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived statements one process signs for another (PG-140): "relay this person's socket of
 * this draft" and "apply this change to this draft". Signed with HMAC-SHA256 under a key derived
 * from CLUSTER_SECRET (a different derivation than the bus's, so a bus signature is never a
 * ticket); each names its purpose and expires. A ticket is a bearer token on the internal
 * network: a relay ticket opens one socket (`verifyOnce`, PG-201); an edit ticket may be replayed
 * until it expires (TICKET_TTL_MS) but applies only its own body (PG-152). Keep the processes'
 * ports reachable only from the balancer and from each other (README, "Running several processes").
 */
export interface Tickets {
  sign(purpose: Purpose, claims: Record<string, unknown>): string;
  /** The claims of a valid, unexpired ticket for `purpose`, else null (never throws). */
  verify(purpose: Purpose, ticket: string | undefined): Record<string, unknown> | null;
  /**
   * As `verify`, and null for a ticket this process already accepted (PG-201): a relay ticket
   * opens one socket, which nothing re-validates on the owner, so one seen on the wire is not a
   * standing key.
   */
  verifyOnce(purpose: Purpose, ticket: string | undefined): Record<string, unknown> | null;
}

export type Purpose = 'relay' | 'edit';

export const TICKET_TTL_MS = 30_000;
/** Longer tickets are refused before any hashing: the cost of a check is bounded by this. */
export const MAX_TICKET_CHARS = 4096;

export function createTickets(secret: string, now: () => number = Date.now): Tickets {
  const key = createHmac('sha256', secret).update('stagecoach internal tickets v1').digest();
  const mac = (purpose: string, body: string) =>
    createHmac('sha256', key).update(`${purpose}.${body}`).digest();
  /** Ids of tickets accepted once, until they expire (as many as were signed in TICKET_TTL_MS). */
  const used = new Map<string, number>();
  const verify: Tickets['verify'] = (purpose, ticket) => {
    if (typeof ticket !== 'string' || ticket.length > MAX_TICKET_CHARS) return null;
    const dot = ticket.indexOf('.');
    if (dot <= 0) return null;
    const body = ticket.slice(0, dot);
    const given = Buffer.from(ticket.slice(dot + 1), 'base64url');
    const wanted = mac(purpose, body);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return null;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return null;
    const exp = (claims as { exp?: unknown }).exp;
    // Not expired, and not issued further ahead than a ticket's life (a clock far off).
    if (typeof exp !== 'number' || exp <= now() || exp > now() + 2 * TICKET_TTL_MS) return null;
    return claims as Record<string, unknown>;
  };
  return {
    sign(purpose, claims) {
      const body = Buffer.from(
        JSON.stringify({
          ...claims,
          jti: randomBytes(12).toString('base64url'),
          exp: now() + TICKET_TTL_MS,
        }),
      ).toString('base64url');
      return `${body}.${mac(purpose, body).toString('base64url')}`;
    },
    verify,
    verifyOnce(purpose, ticket) {
      const claims = verify(purpose, ticket);
      if (!claims || typeof claims.jti !== 'string') return null;
      const t = now();
      // In signing order, so the expired ones come first.
      for (const [id, exp] of used) {
        if (exp > t) break;
        used.delete(id);
      }
      if (used.has(claims.jti)) return null;
      used.set(claims.jti, claims.exp as number);
      return claims;
    },
  };
}
