/**
 * The Conferences and Participants REST resources (list, fetch, update; participants create, fetch,
 * update, delete by CallSid or label) and a conference's recordings, over the engine's rooms.
 * Sources: https://www.twilio.com/docs/voice/api/conference-resource and
 * https://www.twilio.com/docs/voice/api/conference-participant-resource.
 */
import twilio from 'twilio';
import type { VirtualClock } from '../clock';
import { type Account, type Store, recordingJson } from '../state';
import { list } from '../util';
import type { VoiceEngine } from '../voice/engine';
import { type Conference, ConferenceError, type Participant, labelProblem } from '../voice/conference';
import { TwilioError, notFound, page } from './http';
import type { Ctx, Handler } from './api';

/** What the conference routes need from the REST API. */
export interface ConferenceRouteDeps {
  store: Store;
  engine: VoiceEngine;
  clock: VirtualClock;
  baseUrl: () => string;
  /** Refuses a call when the account's CPS queue is full (429 / 20429). */
  checkCps: (account: Account) => void;
  /** Refuses To / From the way Calls create does (21211, 21210, 21215). */
  checkEndpoints: (store: Store, accountSid: string, to: string, from: string) => void;
}

const CONFERENCE_SID = /^CF[0-9a-f]{32}$/i;

/** Twilio's answer for an `(in)valid parameter` the contract accepts but the resource refuses. */
const invalid = (code: number, message: string) => new TwilioError(400, code, message);

/** Registers the conference routes on the REST API. */
export function conferenceRoutes(on: (method: string, template: string, h: Handler) => void, d: ConferenceRouteDeps): void {
  const C = d.engine.conferences;
  const rooms = (c: Ctx) => [...C.all.values()].filter((x) => x.accountSid === c.account.sid);
  const getConference = (c: Ctx, key: string) => {
    const conf = C.all.get(String(c.path[key]));
    if (!conf || conf.accountSid !== c.account.sid) throw notFound(c.pathname);
    return conf;
  };
  /** Participants are the callers connecting to, or in, a conference that is not completed. */
  const getParticipant = (c: Ctx) => {
    const conf = getConference(c, 'ConferenceSid');
    const p = conf.status === 'completed' ? undefined : C.find(conf, String(c.path.CallSid));
    if (!p || p.removed) throw notFound(c.pathname);
    return p;
  };
  const rethrow = (e: unknown): never => {
    if (e instanceof ConferenceError) throw new TwilioError(e.status, e.code, e.message);
    throw e;
  };

  on('GET', '/Accounts/{AccountSid}/Conferences.json', (c) => {
    let all = rooms(c);
    const q = c.query;
    if (q.FriendlyName !== undefined) all = all.filter((x) => x.friendlyName === q.FriendlyName);
    if (q.Status !== undefined) all = all.filter((x) => x.status === q.Status);
    // DateCreated / DateUpdated (YYYY-MM-DD, UTC): that day; with `<` on or before it, with `>` on or after it.
    for (const [field, at] of [['DateCreated', (x: Conference) => x.dateCreated], ['DateUpdated', (x: Conference) => x.dateUpdated]] as const) {
      for (const op of ['', '<', '>'] as const) {
        const raw = q[field + op];
        if (raw === undefined) continue;
        const day = Date.parse(`${String(raw)}T00:00:00Z`);
        if (Number.isNaN(day)) throw invalid(20001, `Invalid value for ${field}${op}: ${String(raw)}`);
        all = all.filter((x) => {
          const ms = at(x);
          if (op === '<') return ms < day + 86_400_000;
          if (op === '>') return ms >= day;
          return ms >= day && ms < day + 86_400_000;
        });
      }
    }
    all.sort((a, b) => b.dateCreated - a.dateCreated);
    return { status: 200, body: page(all.map((x) => C.json(x)), 'conferences', c.pathname, q) };
  });
  on('GET', '/Accounts/{AccountSid}/Conferences/{Sid}.json', (c) => ({ status: 200, body: C.json(getConference(c, 'Sid')) }));
  on('POST', '/Accounts/{AccountSid}/Conferences/{Sid}.json', (c) => {
    const conf = getConference(c, 'Sid');
    const b = c.body;
    if (b.AnnounceUrl !== undefined) {
      if (conf.status === 'completed') throw invalid(20001, `Conference ${conf.sid} is completed: nothing to announce to`);
      C.announceToAll(conf, String(b.AnnounceUrl), String(b.AnnounceMethod ?? 'POST'));
    }
    if (b.Status === 'completed') C.end(conf, 'conference-ended-via-api');
    return { status: 200, body: C.json(conf) };
  });

  on('GET', '/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants.json', (c) => {
    const conf = getConference(c, 'ConferenceSid');
    let all = conf.status === 'completed' ? [] : [...conf.participants, ...conf.pending].filter((p) => !p.removed);
    for (const k of ['Muted', 'Hold', 'Coaching'] as const) {
      const v = c.query[k];
      if (v === undefined) continue;
      const field = ({ Muted: 'muted', Hold: 'hold', Coaching: 'coaching' } as const)[k];
      all = all.filter((p) => p[field] === (v === true || v === 'true'));
    }
    return { status: 200, body: page(all.map((p) => C.participantJson(p)), 'participants', c.pathname, c.query) };
  });
  on('GET', '/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}.json', (c) => ({ status: 200, body: C.participantJson(getParticipant(c)) }));
  on('POST', '/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}.json', (c) => {
    const p = getParticipant(c);
    checkAgentConference(c, d);
    try {
      C.update(p, c.body);
    } catch (e) {
      rethrow(e);
    }
    return { status: 200, body: C.participantJson(p) };
  });
  on('DELETE', '/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}.json', (c) => {
    C.kick(getParticipant(c));
    return { status: 204 };
  });
  on('POST', '/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants.json', (c) => createParticipant(c, d));

  on('GET', '/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Recordings.json', (c) => {
    const conf = getConference(c, 'ConferenceSid');
    const all = [...d.store.recordings.values()].filter((r) => r.conferenceSid === conf.sid);
    return { status: 200, body: page(all.map((r) => recordingJson(r, d.baseUrl())), 'recordings', c.pathname, c.query) };
  });
  on('GET', '/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Recordings/{Sid}.json', (c) => {
    const conf = getConference(c, 'ConferenceSid');
    const rec = d.store.recordings.get(String(c.path.Sid));
    if (!rec || rec.conferenceSid !== conf.sid) throw notFound(c.pathname);
    return { status: 200, body: recordingJson(rec, d.baseUrl()) };
  });
}

/**
 * Participants create: dials `To` as an outbound call (paced by the account's CPS like Calls create)
 * that joins the conference when answered. The path names the conference by SID (it must be active)
 * or by FriendlyName (an active one, else a new one is created).
 */
function createParticipant(c: Ctx, d: ConferenceRouteDeps) {
  const C = d.engine.conferences;
  const b = c.body;
  const s = (k: string) => (b[k] === undefined ? undefined : String(b[k]));
  const to = String(b.To);
  const from = String(b.From);
  const id = String(c.path.ConferenceSid);
  let conf: Conference | undefined;
  if (CONFERENCE_SID.test(id)) {
    conf = C.all.get(id);
    if (!conf || conf.accountSid !== c.account.sid || conf.status === 'completed') {
      throw new TwilioError(404, 20404, `The requested resource ${c.pathname} was not found: no active conference ${id}`);
    }
  } else conf = C.active(c.account.sid, id);
  d.checkEndpoints(d.store, c.account.sid, to, from);
  const label = s('Label');
  if (label !== undefined) {
    const bad = labelProblem(label);
    if (bad) throw invalid(16024, `Invalid participant label: ${bad}`);
    if (conf && C.find(conf, label)) throw invalid(16026, `Participant label ${label} is in use by another participant`);
  }
  const coachSid = s('CallSidToCoach');
  checkAgentConference(c, d);
  if (b.Coaching === true && !coachSid) throw invalid(16028, 'Coaching=true needs CallSidToCoach');
  if (coachSid && !(conf && conf.participants.some((p) => p.leg.sid === coachSid && !p.removed))) {
    throw invalid(16028, `The participant to be coached (${coachSid}) is not present in the conference`);
  }
  const max = b.MaxParticipants === undefined ? undefined : Number(b.MaxParticipants);
  if (max !== undefined && (max < 2 || max > 250)) throw invalid(20001, 'MaxParticipants must be between 2 and 250');
  if (conf && conf.participants.length + conf.pending.length >= conf.maxParticipants) throw invalid(16020, `Conference ${conf.sid} is full (${conf.maxParticipants})`);
  d.checkCps(c.account);
  if (!conf) {
    const record = s('ConferenceRecord');
    const recCb = s('ConferenceRecordingStatusCallback');
    const cbUrl = s('ConferenceStatusCallback');
    conf = C.create(c.account.sid, id, {
      maxParticipants: max,
      callback: cbUrl ? { url: cbUrl, method: s('ConferenceStatusCallbackMethod') ?? 'POST', events: new Set(events(b.ConferenceStatusCallbackEvent, 'start end')) } : undefined,
      record: record === 'true' || record === 'record-from-start',
      recordingCallback: recCb
        ? { url: recCb, method: s('ConferenceRecordingStatusCallbackMethod') ?? 'POST', events: new Set(events(b.ConferenceRecordingStatusCallbackEvent, 'completed')) }
        : undefined,
      region: s('Region'),
    });
  }
  // The new call runs <Dial><Conference> on answer; the participant's own settings come from this request.
  const t = new twilio.twiml.VoiceResponse();
  t.dial().conference(conf.friendlyName);
  const params: Record<string, unknown> = { Twiml: t.toString() };
  const pass: [string, string][] = [
    ['StatusCallback', 'StatusCallback'], ['StatusCallbackMethod', 'StatusCallbackMethod'], ['StatusCallbackEvent', 'StatusCallbackEvent'], ['Timeout', 'Timeout'],
    ['Record', 'Record'], ['RecordingChannels', 'RecordingChannels'], ['RecordingStatusCallback', 'RecordingStatusCallback'],
    ['RecordingStatusCallbackMethod', 'RecordingStatusCallbackMethod'], ['RecordingStatusCallbackEvent', 'RecordingStatusCallbackEvent'], ['RecordingTrack', 'RecordingTrack'],
    ['TimeLimit', 'TimeLimit'], ['MachineDetection', 'MachineDetection'], ['MachineDetectionTimeout', 'MachineDetectionTimeout'],
    ['AmdStatusCallback', 'AsyncAmdStatusCallback'], ['AmdStatusCallbackMethod', 'AsyncAmdStatusCallbackMethod'],
  ];
  for (const [from_, to_] of pass) if (b[from_] !== undefined) params[to_] = b[from_];
  if (b.AmdStatusCallback !== undefined) params.AsyncAmd = 'true';
  const callerId = s('CallerId') ?? from;
  const leg = d.engine.startOutbound({ accountSid: c.account.sid, from: callerId, to, params });
  leg.note('note', `dialed by Participants create for conference ${conf.friendlyName} (${conf.sid})`);
  const p: Participant = C.addPending(conf, leg, {
    label, muted: b.Muted as boolean | undefined, beep: s('Beep'), startConferenceOnEnter: b.StartConferenceOnEnter as boolean | undefined,
    endConferenceOnExit: b.EndConferenceOnExit as boolean | undefined, waitUrl: s('WaitUrl'), waitMethod: s('WaitMethod'),
    coaching: b.Coaching as boolean | undefined, callSidToCoach: coachSid,
  }, d.engine.cpsBacklog(c.account.sid) > 0 ? 1000 : 0);
  return { status: 201, body: C.participantJson(p, true) };
}

/**
 * Coaching needs Agent Conference on the account: without it Twilio answers 16000 "Whisper Not
 * Available on Twilio Conference" (https://www.twilio.com/docs/api/errors/16000).
 */
function checkAgentConference(c: Ctx, d: ConferenceRouteDeps): void {
  if ((c.body.Coaching === true || c.body.CallSidToCoach !== undefined) && d.store.optionsOf(c.account.sid).agentConference === false) {
    throw invalid(16000, 'Whisper Not Available on Twilio Conference: turn on Agent Conference in the conference settings');
  }
}

/** A repeated / space-separated event list parameter, or its default. */
function events(v: unknown, dflt: string): string[] {
  const got = list(v as string | string[] | undefined);
  return got.length ? got : dflt.split(' ');
}
