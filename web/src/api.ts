// The HTTP API as the pages use it: JSON in and out, errors as ApiError with the server's stable
// code, the access token attached and renewed.
//
// Sessions: the refresh token rotates on every use and a reused one ends the whole session
// (ADR 0012), so two tabs must never refresh with the same token. The session lives in
// localStorage (shared by the tabs) and a refresh runs under a Web Lock: a tab that gets the lock
// after another tab refreshed finds the new tokens and uses them instead of refreshing again.
import { Store } from './store';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A request that may not have reached the server, or whose answer was lost. */
export class NetworkError extends Error {}

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: number; // device clock, ms
  memberId: number;
  role: 'user' | 'admin';
  emailVerified: boolean;
}

const SESSION_KEY = 'rm.session';

function claims(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}

function readSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export const session = new Store<Session | null>(readSession());

// Another tab logged in, refreshed or logged out.
window.addEventListener('storage', (e) => {
  if (e.key === SESSION_KEY || e.key === null) session.set(readSession());
});

export function saveTokens(tokens: { accessToken: string; refreshToken: string; expiresIn: number }): Session {
  const c = claims(tokens.accessToken);
  const s: Session = {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: Date.now() + tokens.expiresIn * 1000,
    memberId: Number(c.sub ?? 0),
    role: c.role === 'admin' ? 'admin' : 'user',
    emailVerified: c.email_verified === true,
  };
  localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  session.set(s);
  return s;
}

export function clearSession(): void {
  localStorage.removeItem(SESSION_KEY);
  session.set(null);
}

let refreshing: Promise<Session | null> | null = null;

async function refreshOnce(stale: Session): Promise<Session | null> {
  const current = readSession();
  if (!current) return null;
  // Another tab (or an earlier call) already renewed the tokens we hold.
  if (current.accessToken !== stale.accessToken && current.expiresAt > Date.now() + 5000) {
    session.set(current);
    return current;
  }
  let res: Response;
  try {
    res = await fetch('/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refreshToken: current.refreshToken }),
    });
  } catch {
    throw new NetworkError('network');
  }
  if (!res.ok) {
    if (res.status === 401 || res.status === 400) clearSession();
    return null;
  }
  return saveTokens(await res.json());
}

/** Renews the access token (one refresh at a time across tabs). null: logged out. */
export function refreshSession(stale: Session): Promise<Session | null> {
  if (!refreshing) {
    const run = () => refreshOnce(stale);
    const locks = (navigator as Navigator & { locks?: LockManager }).locks;
    const task: Promise<Session | null> = locks ? (locks.request('rm.refresh', run) as unknown as Promise<Session | null>) : run();
    refreshing = task.finally(() => {
      refreshing = null;
    });
  }
  return refreshing as Promise<Session | null>;
}

async function validSession(): Promise<Session | null> {
  const s = session.get();
  if (!s) return null;
  if (s.expiresAt - Date.now() > 30_000) return s;
  return refreshSession(s);
}

export interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string;
  /** Send the token when there is one (public routes read it for likedByMe). */
  auth?: boolean;
  signal?: AbortSignal;
}

export interface Answer<T> {
  status: number;
  data: T;
  headers: Headers;
}

async function send(method: string, path: string, opts: RequestOptions, s: Session | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (s) headers.Authorization = `Bearer ${s.accessToken}`;
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  try {
    return await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new NetworkError('network');
  }
}

export async function api<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<Answer<T>> {
  let s = opts.auth === false ? null : await validSession().catch(() => session.get());
  let res = await send(method, path, opts, s);
  if (res.status === 401 && s) {
    // Expired or revoked while we held it: renew once and try again.
    s = await refreshSession(s);
    if (s) res = await send(method, path, opts, s);
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })?.error;
    throw new ApiError(
      res.status,
      err?.code ?? `HTTP_${res.status}`,
      err?.message ?? res.statusText,
      (err?.details?.field as string | undefined) ?? undefined,
      err?.details,
    );
  }
  return { status: res.status, data: data as T, headers: res.headers };
}

export const get = <T>(path: string, opts?: RequestOptions) => api<T>('GET', path, opts).then((a) => a.data);

/** A fresh Idempotency-Key (works on plain http too, unlike crypto.randomUUID). */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const RETRYABLE = new Set(['OVERLOADED', 'TIMEOUT', 'UNAVAILABLE', 'REQUEST_IN_FLIGHT', 'RATE_LIMITED']);

/**
 * A purchase: one Idempotency-Key for the whole attempt, so a retry after a lost answer or a
 * busy server is answered with the first request's outcome and never buys twice.
 */
export async function purchase<T>(path: string, body: unknown, key: string, attempts = 6): Promise<Answer<T>> {
  let delay = 300;
  for (let i = 1; ; i++) {
    try {
      return await api<T>('POST', path, { body, idempotencyKey: key });
    } catch (e) {
      const retry = e instanceof NetworkError || (e instanceof ApiError && RETRYABLE.has(e.code));
      if (!retry || i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 3000);
    }
  }
}

export async function logout(everywhere = false): Promise<void> {
  const s = session.get();
  if (s) {
    try {
      await api('POST', everywhere ? '/auth/logout-all' : '/auth/logout', {
        body: everywhere ? undefined : { refreshToken: s.refreshToken },
      });
    } catch {
      // the tokens are dropped here anyway
    }
  }
  clearSession();
}
