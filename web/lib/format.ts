/** How the web writes ids and times for people. */
export const shortId = (id: string | null | undefined) => (id ? id.slice(0, 8) : '—');

export function timeAgo(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

/** A span of time for people: "4 s", "12 min", "3 h" (RTC-9: how long runtimes took to pick up). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}

/** A `datetime-local` input's value (the person's local time) as an ISO time. */
export const localToIso = (local: string): string => new Date(local).toISOString();
