import type { AgentStatus } from '../../lib/domain/agents';

/**
 * The JSON the agent page reads from /api. The agent endpoints' shapes are the ones the API
 * functions declare (imported as types only: the browser bundle carries no server code).
 */

export type Role = 'admin' | 'supervisor' | 'agent';

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
  agent: { id: number; name: string; status: AgentStatus; phone_number: string | null; client_identity: string | null } | null;
  pause_reasons: string[];
  disposition_codes: string[];
  softphone: SoftphoneConfig;
}

export type {
  AgentStatus,
  AgentCallHistoryItem as HistoryItem,
  AgentOffer as Offer,
  AgentWaiting as Waiting,
  AgentVoicemail as Voicemail,
  AgentMessage as TextMessage,
  AgentMissedCall as MissedCall,
  VoiceTokenResponse as VoiceTokenReply,
} from '../../lib/domain/agents';
export type {
  CampaignLead as Lead,
  CampaignCall as CurrentCall,
  CampaignStateResponse as StateReply,
  AgentCampaign as Campaign,
  PreviewLead,
  Disposition,
} from '../../lib/domain/outcomes';

/** Every /api error body. */
export interface ApiErrorBody {
  error: string;
  message?: string;
  retry_after?: number;
}
