/**
 * The JSON the agent page reads from /api (the shapes the API functions answer). Kept here,
 * type-only, so the browser bundle carries no server code.
 */

export type Role = 'admin' | 'supervisor' | 'agent';
export type AgentStatus = 'available' | 'paused' | 'offline' | 'reserved' | 'busy' | 'wrap_up';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  agent_id: number | null;
}

export interface LoginReply {
  token: string;
  expires_at: string;
  user: User;
}

export type SoftphoneConfig = { kind: 'twilio' } | { kind: 'emulator'; script_url: string };

export interface MeReply {
  user: User;
  agent?: { id: number; name: string; status: AgentStatus; phone_number: string | null; client_identity: string };
  pause_reasons: string[];
  disposition_codes: string[];
  softphone: SoftphoneConfig;
}

export interface VoiceTokenReply {
  token: string;
  identity: string;
  expires_at: string;
  ttl_seconds: number;
}

export interface Lead {
  id: number | string;
  name: string | null;
  fields: Record<string, unknown> | null;
  campaign: string | { id?: number | string; name?: string } | null;
}

export interface HistoryItem {
  call_sid: string;
  at: string;
  direction: string;
  disposition: string | null;
  duration: number | null;
}

export interface CurrentCall {
  call_sid: string;
  direction: string;
  customer: string;
  started_at: string | null;
  answered_at: string | null;
  lead: Lead | null;
  history: HistoryItem[];
}

export interface Offer {
  call_sid: string;
  from: string;
  since: string;
}

export interface Waiting {
  call_sid: string;
  since: string;
  wait_seconds: number;
}

/** A voicemail or missed call as the state lists them; only call_sid is relied on, the rest is shown when present. */
export interface ListedCall {
  call_sid: string;
  from?: string | null;
  at?: string | null;
  created_at?: string | null;
  duration?: number | null;
  recording_url?: string | null;
}

export interface StateReply {
  agent: {
    status: AgentStatus;
    status_since: string;
    pause_reason: string | null;
    wrap_up_until: string | null;
    routable: boolean;
  };
  offer: Offer | null;
  call: CurrentCall | null;
  waiting: Waiting[];
  voicemails: ListedCall[];
  missed: ListedCall[];
  server_time: string;
}

/** Every /api error body. */
export interface ApiErrorBody {
  error: string;
  message?: string;
  retry_after?: number;
}
