import type { ErrorBody, ErrorId } from '#schema/errors.ts';

/** An API refusal, carrying the catalogue id so the UI can say what to do. */
export class ApiError extends Error {
  readonly id: ErrorId | 'network';
  readonly status: number;
  /** The error's `details` (e.g. the problems, or the hotfix changes a move would undo). */
  readonly details: unknown;
  constructor(id: ErrorId | 'network', status: number, message: string, details?: unknown) {
    super(message);
    this.id = id;
    this.status = status;
    this.details = details;
  }
}

/** JSON over fetch with the session cookie. Throws ApiError with the server's message. */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method: init.method ?? 'GET',
      credentials: 'same-origin',
      headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch {
    throw new ApiError(
      'network',
      0,
      'Cannot reach the Stagecoach server. Check your connection and try again.',
    );
  }
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) {
    const err = (body as ErrorBody | null)?.error;
    throw new ApiError(
      err?.id ?? 'internal',
      res.status,
      err?.message ?? `The server answered ${res.status}. Try again.`,
      err?.details,
    );
  }
  return body as T;
}
