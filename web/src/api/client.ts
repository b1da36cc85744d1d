// The one way the UI talks to Yubin: JSON over the documented HTTP API, in the UI's
// language (Accept-Language), with the session's CSRF token on every write.
// Errors come back as ApiError with the API's own code, message and field errors.
export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
    /** anything else the error body carried, e.g. `accounts` for SERVER_IN_USE */
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The message for one field path, e.g. "incoming.port". */
  field(path: string): string | undefined {
    return this.fields.find((f) => f.path === path)?.message;
  }
}

export interface ClientState {
  lang: string;
  csrfToken: string | null;
}

/** Set by the session provider; read on every request. */
export const clientState: ClientState = { lang: 'ja', csrfToken: null };

/** Called when the API says the session is gone (401) and when a CSRF token went stale (403 CSRF). */
export const clientHooks: { onUnauthenticated: () => void; refreshCsrf: () => Promise<string | null> } = {
  onUnauthenticated: () => {},
  refreshCsrf: async () => null,
};

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

async function send(method: Method, path: string, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', 'accept-language': clientState.lang };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && clientState.csrfToken) headers['x-csrf-token'] = clientState.csrfToken;
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
}

async function toError(res: Response): Promise<ApiError> {
  let parsed: unknown;
  try {
    parsed = await res.json();
  } catch {
    parsed = undefined;
  }
  const err = (parsed as { error?: Record<string, unknown> } | undefined)?.error;
  if (err && typeof err.message === 'string') {
    const { code, message, fields, ...rest } = err;
    return new ApiError(res.status, String(code ?? 'ERROR'), message, Array.isArray(fields) ? (fields as FieldError[]) : [], rest);
  }
  return new ApiError(res.status, 'HTTP_' + res.status, `${res.status} ${res.statusText}`);
}

export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await send(method, path, body);
  } catch (e) {
    throw new ApiError(0, 'NETWORK', e instanceof Error ? e.message : String(e));
  }
  if (res.status === 403 && method !== 'GET') {
    // a stale CSRF token (the session was renewed in another tab): fetch the current one and try once more
    const err = await toError(res);
    if (err.code !== 'CSRF') throw err;
    const token = await clientHooks.refreshCsrf();
    if (!token) throw err;
    res = await send(method, path, body);
  }
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && !path.startsWith('/api/auth/')) clientHooks.onUnauthenticated();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A query string from the defined values, e.g. qs({ limit: 50, q: undefined }) → "?limit=50". */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? '?' + s : '';
}
