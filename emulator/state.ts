import { API_VERSION, countryOf, newSid, rfc2822 } from './util';

/** Per-account behaviour switches (regulation, pacing). */
export interface AccountOptions {
  /** Buying BR Local/Mobile numbers requires AddressSid (error 21631). */
  requireAddressForBR?: boolean;
  /** Buying BR Local/Mobile numbers requires BundleSid (error 21649). */
  requireBundleForBR?: boolean;
  /** Outbound API calls started per virtual second; excess calls wait in a queue (default 1). */
  cps?: number;
  /** Queued outbound calls allowed before Calls create answers 429 / 20429 (default unlimited). */
  cpsQueueLimit?: number;
  /**
   * Voice geographic permissions: ISO countries the account may call (Calls create 21215, `<Dial>` 13227 elsewhere).
   * A subaccount inherits its main account's list unless it has its own. `['*']` allows every country.
   */
  dialingPermissions?: string[];
  /** Verified outgoing caller IDs (E.164) usable as `From` / `callerId` besides the account's own numbers. */
  verifiedCallerIds?: string[];
  /**
   * Agent Conference (Console: Voice, Settings, Conference). `false`: Participants create or update
   * with Coaching / CallSidToCoach answers 400/16000 "Whisper Not Available on Twilio Conference".
   * Unset: coaching is allowed, as on an account that turned it on.
   */
  agentConference?: boolean;
}

/** An account or subaccount. */
export interface Account {
  sid: string;
  authToken: string;
  friendlyName: string;
  status: 'active' | 'suspended' | 'closed';
  /** The main account's SID (equal to `sid` for the main account). */
  ownerSid: string;
  dateCreated: number;
  dateUpdated: number;
  options: AccountOptions;
}

/** An IncomingPhoneNumber, kept as its snake_case JSON. */
export interface IncomingNumber {
  sid: string;
  accountSid: string;
  phoneNumber: string;
  json: Record<string, unknown>;
}

/** A recording made by `<Record>`, `<Dial record>`, Calls create Record=true or Calls Recordings create. */
export interface Recording {
  sid: string;
  accountSid: string;
  /** The recorded call ('' for a conference recording). */
  callSid: string;
  /** Set for a recording of a whole conference (`<Conference record>`). */
  conferenceSid?: string;
  startMs: number;
  durationS: number;
  channels: 1 | 2;
  source: 'RecordVerb' | 'DialVerb' | 'OutboundAPI' | 'Conference' | 'StartCallRecordingAPI';
  status: 'in-progress' | 'paused' | 'completed' | 'absent';
  track: string;
  /** While paused: when the pause began and whether it leaves the paused time out of the file (`skip`) or keeps it as silence. */
  pause?: { sinceMs: number; behavior: 'skip' | 'silence' };
  /** Milliseconds left out of the file by earlier `skip` pauses. */
  skippedMs?: number;
  dateCreated: number;
  dateUpdated: number;
  /** When it was deleted through the REST API (then only `Emulator.recordings()` still shows it). */
  deletedMs?: number;
}

/** A message sent through Messages create (SMS or WhatsApp), or received by a number. */
export interface Message {
  sid: string;
  accountSid: string;
  json: Record<string, unknown>;
  /** A Content Template send: the ContentSid and the ContentVariables (parsed) it was created with. */
  content?: { sid: string; variables: Record<string, string> | null };
}

/** A TwiML App (Applications resource): where calls from Voice SDK Devices (and Calls create ApplicationSid) get their TwiML. */
export interface Application {
  sid: string;
  accountSid: string;
  /** Its snake_case JSON, as Twilio returns it. */
  json: Record<string, unknown>;
}

/** An API key (Keys resource); its secret is shown once, on create, and signs AccessTokens. */
export interface ApiKeyRecord {
  sid: string;
  accountSid: string;
  friendlyName: string;
  secret: string;
  dateCreated: number;
  dateUpdated: number;
}

/** Everything the REST API can list, by SID. */
export class Store {
  readonly accounts = new Map<string, Account>();
  readonly numbers = new Map<string, IncomingNumber>();
  readonly recordings = new Map<string, Recording>();
  /** Recordings deleted through the REST API (gone from every resource and media URL; kept for tests to inspect). */
  readonly deletedRecordings = new Map<string, Recording>();
  /** Deletes a recording as Recordings delete does: gone from the API, remembered with its deletion time. */
  deleteRecording(sid: string, now: number): void {
    const rec = this.recordings.get(sid);
    if (!rec) return;
    this.recordings.delete(sid);
    this.deletedRecordings.set(sid, { ...rec, deletedMs: now });
  }
  readonly messages = new Map<string, Message>();
  readonly applications = new Map<string, Application>();
  readonly keys = new Map<string, ApiKeyRecord>();
  /** Options every account has unless its main account or itself says otherwise. */
  defaults: AccountOptions = {};

  /** An account's options: the defaults, then its main account's, then its own. */
  optionsOf(accountSid: string): AccountOptions {
    const a = this.accounts.get(accountSid);
    const owner = a ? this.accounts.get(a.ownerSid) : undefined;
    return { ...this.defaults, ...owner?.options, ...a?.options };
  }

  /** True when the account may call `to` under its geographic permissions (client:/sip: addresses are not geographic). */
  mayCall(accountSid: string, to: string): boolean {
    if (!to.startsWith('+')) return true;
    const allowed = this.optionsOf(accountSid).dialingPermissions ?? ['*'];
    if (allowed.includes('*')) return true;
    const country = countryOf(to);
    return country !== '' && allowed.map((c) => c.toUpperCase()).includes(country);
  }

  /** True when `callerId` is a number of the account (or of its main account's verified list) or a verified caller ID. */
  ownsCallerId(accountSid: string, callerId: string): boolean {
    const n = this.numberByAddress(callerId);
    if (n && n.accountSid === accountSid) return true;
    return (this.optionsOf(accountSid).verifiedCallerIds ?? []).includes(callerId);
  }

  /** Creates an account; `owner` undefined makes a main account. */
  createAccount(opts: { sid?: string; authToken?: string; friendlyName?: string; owner?: string; now: number; options?: AccountOptions }): Account {
    const sid = opts.sid ?? newSid('AC');
    const acct: Account = {
      sid,
      authToken: opts.authToken ?? newSid('').slice(0, 32),
      friendlyName: opts.friendlyName ?? `SubAccount Created at ${rfc2822(opts.now)}`,
      status: 'active',
      ownerSid: opts.owner ?? sid,
      dateCreated: opts.now,
      dateUpdated: opts.now,
      options: { ...opts.options },
    };
    this.accounts.set(sid, acct);
    return acct;
  }

  /** The owned number matching an address (E.164 or `whatsapp:+E164`), in any account. */
  numberByAddress(address: string): IncomingNumber | undefined {
    const bare = address.replace(/^whatsapp:/, '');
    for (const n of this.numbers.values()) if (n.phoneNumber === bare) return n;
    return undefined;
  }
}

/** Base REST path of an account: /2010-04-01/Accounts/AC…. */
export function accountPath(accountSid: string): string {
  return `/${API_VERSION}/Accounts/${accountSid}`;
}

/** JSON of an account the way Twilio returns it. */
export function accountJson(a: Account): Record<string, unknown> {
  const base = accountPath(a.sid);
  return {
    auth_token: a.authToken,
    date_created: rfc2822(a.dateCreated),
    date_updated: rfc2822(a.dateUpdated),
    friendly_name: a.friendlyName,
    owner_account_sid: a.ownerSid,
    sid: a.sid,
    status: a.status,
    subresource_uris: Object.fromEntries(
      ['addresses', 'conferences', 'signing_keys', 'transcriptions', 'connect_apps', 'sip', 'authorized_connect_apps', 'usage', 'keys',
        'applications', 'recordings', 'short_codes', 'calls', 'notifications', 'incoming_phone_numbers', 'queues', 'messages',
        'outgoing_caller_ids', 'available_phone_numbers', 'balance'].map((k) => [k, `${base}/${k.split('_').map((w) => w[0]?.toUpperCase() + w.slice(1)).join('')}.json`]),
    ),
    type: 'Full',
    uri: `${base}.json`,
  };
}

/** Recording media URL without extension (Twilio serves WAV there; add .mp3 or .wav to choose). */
export function recordingMediaPath(r: Recording): string {
  return `${accountPath(r.accountSid)}/Recordings/${r.sid}`;
}

/** JSON of a recording the way Twilio returns it. */
export function recordingJson(r: Recording, baseUrl: string): Record<string, unknown> {
  const base = `${accountPath(r.accountSid)}/Recordings/${r.sid}`;
  return {
    account_sid: r.accountSid,
    api_version: API_VERSION,
    call_sid: r.callSid || null,
    conference_sid: r.conferenceSid ?? null,
    date_created: rfc2822(r.dateCreated),
    date_updated: rfc2822(r.dateUpdated),
    start_time: rfc2822(r.startMs),
    duration: r.status === 'completed' ? String(r.durationS) : '-1',
    sid: r.sid,
    price: r.status === 'completed' ? '-0.0025' : null,
    price_unit: 'USD',
    status: r.status,
    channels: r.channels,
    source: r.source,
    error_code: null,
    uri: `${base}.json`,
    encryption_details: null,
    subresource_uris: { add_on_results: `${base}/AddOnResults.json`, transcriptions: `${base}/Transcriptions.json` },
    media_url: `${baseUrl}${base}`,
    track: r.track,
  };
}

/**
 * JSON of a call's recording as the Calls Recordings resource returns it (api.v2010.account.call.call_recording:
 * no media_url / subresource_uris, uri under the call). `status` overrides the stored one (an update to
 * `stopped` answers `stopped` although the file is then completed).
 */
export function callRecordingJson(r: Recording, status?: string): Record<string, unknown> {
  const live = r.status === 'in-progress' || r.status === 'paused';
  return {
    account_sid: r.accountSid,
    api_version: API_VERSION,
    call_sid: r.callSid,
    conference_sid: r.conferenceSid ?? null,
    date_created: rfc2822(r.dateCreated),
    date_updated: rfc2822(r.dateUpdated),
    start_time: rfc2822(r.startMs),
    duration: live ? null : String(r.durationS),
    sid: r.sid,
    price: live ? null : '-0.0025',
    uri: `${accountPath(r.accountSid)}/Calls/${r.callSid}/Recordings/${r.sid}.json`,
    encryption_details: null,
    price_unit: 'USD',
    status: status ?? r.status,
    channels: r.channels,
    source: r.source,
    error_code: null,
    track: r.track,
  };
}

/** PascalCase form parameter name → Twilio's snake_case JSON field name. */
export function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
