/**
 * The page's /api client: JSON in and out, the session token as a bearer header (the
 * HttpOnly cookie travels too, same origin), errors as ApiError with the API's stable code.
 */
import type { ApiErrorBody, LoginReply, MeReply, PreviewLead, StateReply, VoiceTokenReply } from './types';

/** An /api answer that was not 2xx, or no answer at all (`network`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'discador.session';

/** Where the token lives between reloads: this tab only, gone when it closes. */
export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the cookie still carries the session.
  }
}

export class Api {
  private token: string | null = storedToken();

  constructor(private readonly base = '') {}

  get signedIn(): boolean {
    return this.token !== null;
  }

  /** Sends one request; resolves with the JSON body, rejects with ApiError (`signal` aborts it: a network error). */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
        signal,
      });
    } catch {
      throw new ApiError(0, 'network', 'Sem conexão com o servidor.');
    }
    let json: unknown = null;
    try {
      json = await res.json();
    } catch {
      json = null;
    }
    if (!res.ok) {
      const e = (json ?? {}) as Partial<ApiErrorBody>;
      const retry = typeof e.retry_after === 'number' ? e.retry_after : Number(res.headers.get('retry-after')) || null;
      throw new ApiError(res.status, typeof e.error === 'string' ? e.error : 'internal_error', typeof e.message === 'string' ? e.message : res.statusText, retry);
    }
    return json as T;
  }

  /**
   * Downloads a file (a CSV export) with this tab's session, like request(): the body as a
   * Blob and the file name its Content-Disposition gives; a refusal is the same ApiError.
   */
  async file(path: string, fallbackName: string): Promise<{ blob: Blob; name: string }> {
    const headers: Record<string, string> = {};
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, { headers, credentials: 'same-origin', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network', 'Sem conexão com o servidor.');
    }
    if (!res.ok) {
      let e: Partial<ApiErrorBody> = {};
      try {
        e = ((await res.json()) ?? {}) as Partial<ApiErrorBody>;
      } catch {
        e = {};
      }
      throw new ApiError(res.status, typeof e.error === 'string' ? e.error : 'internal_error', typeof e.message === 'string' ? e.message : res.statusText);
    }
    const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
    return { blob: await res.blob(), name };
  }

  async login(email: string, password: string): Promise<LoginReply> {
    const reply = await this.request<LoginReply>('POST', '/api/login', { email, password });
    this.token = reply.token;
    storeToken(reply.token);
    return reply;
  }

  /** Revokes the session on the server (best effort) and forgets it here. */
  async logout(): Promise<void> {
    try {
      await this.request('POST', '/api/logout', {});
    } finally {
      this.forget();
    }
  }

  forget(): void {
    this.token = null;
    storeToken(null);
  }

  me = () => this.request<MeReply>('GET', '/api/me');
  state = () => this.request<StateReply>('GET', '/api/agent/state');
  voiceToken = () => this.request<VoiceTokenReply>('GET', '/api/voice-token');
  setStatus = (status: 'available' | 'paused' | 'offline', reason?: string) =>
    this.request<{ agent: unknown }>('POST', '/api/agent/status', reason === undefined ? { status } : { status, reason });
  answer = (call_sid: string) => this.request<{ ok: boolean }>('POST', '/api/agent/answer', { call_sid });
  hangup = (call_sid: string) => this.request<{ ok: boolean }>('POST', '/api/agent/hangup', { call_sid });
  hold = (call_sid: string, hold: boolean) => this.request<{ ok: boolean }>('POST', '/api/agent/hold', { call_sid, hold });
  call = (to: string) => this.request<{ call_sid?: string; attempt_id?: string | number; status: string }>('POST', '/api/agent/call', { to });
  disposition = (body: { call_sid: string; code: string; notes?: string; callback_at?: string }) =>
    this.request<{ disposition: unknown }>('POST', '/api/agent/disposition', body);
  previewNext = () => this.request<{ lead: PreviewLead | null }>('POST', '/api/agent/preview', { action: 'next' });
  previewDial = (leadId: number) =>
    this.request<{ call_sid: string; attempt_id: number; lead_id: number }>('POST', '/api/agent/preview', { action: 'dial', lead_id: String(leadId) });
  previewSkip = (leadId: number) => this.request<{ skipped: number }>('POST', '/api/agent/preview', { action: 'skip', lead_id: String(leadId) });
  /** A short-lived URL to play a recording (a voicemail) the agent may hear. */
  listen = (recordingId: number) => this.request<{ url: string; expires_at: string }>('POST', '/api/recordings/listen', { recording_id: recordingId });
  markMessageRead = (id: number) => this.request<{ id: number; read_at: string }>('POST', '/api/agent/messages/read', { id });
}
