/**
 * The Calls Recordings resource: start, list, fetch, pause / resume / stop and delete the
 * recordings of one call. Source: https://www.twilio.com/docs/voice/api/recording ("Create a
 * Recording resource" on a live call, "Update a Recording resource", RecordingStatusCallback
 * parameters) and twilio_api_v2010.json (CreateCallRecordingRequest, UpdateCallRecordingRequest,
 * call_recording_enum_status / _source). Error 21220 "Invalid call state": a realtime operation on
 * a call that is not in-progress (https://www.twilio.com/docs/api/errors/21220).
 */
import { type Recording, type Store, callRecordingJson } from '../state';
import { list } from '../util';
import type { VoiceEngine } from '../voice/engine';
import { TwilioError, notFound, page } from './http';
import type { Ctx, Handler } from './api';

/** What the call recording routes need. */
export interface CallRecordingDeps {
  store: Store;
  engine: VoiceEngine;
}

/** Values the contract types as free strings but Twilio accepts only from these lists. */
const CHANNELS = ['mono', 'dual'];
const TRACKS = ['inbound', 'outbound', 'both'];
const TRIM = ['trim-silence', 'do-not-trim'];
const EVENTS = ['in-progress', 'completed', 'absent'];
const UPDATE_STATUSES = ['in-progress', 'paused', 'stopped'];
const PAUSE_BEHAVIORS = ['skip', 'silence'];

/** The Recording SID that names the call's running recording in an update. */
const CURRENT = 'Twilio.CURRENT';

function oneOf(name: string, value: unknown, allowed: string[]): string | undefined {
  if (value === undefined) return undefined;
  const v = String(value);
  if (!allowed.includes(v)) throw new TwilioError(400, 20001, `Invalid ${name}: '${v}' (must be one of ${allowed.join(', ')})`);
  return v;
}

/** Registers the Calls/{CallSid}/Recordings routes (the account-level Recordings routes serve these recordings too). */
export function callRecordingRoutes(on: (method: string, template: string, h: Handler) => void, d: CallRecordingDeps): void {
  const S = d.store;
  const E = d.engine;
  const getCall = (c: Ctx) => {
    const leg = E.legs.get(String(c.path.CallSid));
    if (!leg || leg.accountSid !== c.account.sid) throw notFound(c.pathname);
    return leg;
  };
  const ofCall = (c: Ctx) => [...S.recordings.values()].filter((r) => r.accountSid === c.account.sid && r.callSid === c.path.CallSid);

  on('POST', '/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json', (c) => {
    const leg = getCall(c);
    const b = c.body;
    // Parameters are checked before the call state, so a bad request changes nothing either way.
    const channels = oneOf('RecordingChannels', b.RecordingChannels, CHANNELS) ?? 'mono';
    const track = oneOf('RecordingTrack', b.RecordingTrack, TRACKS) ?? 'both';
    oneOf('Trim', b.Trim, TRIM);
    const events = list(b.RecordingStatusCallbackEvent as string | string[] | undefined);
    for (const e of events) oneOf('RecordingStatusCallbackEvent', e, EVENTS);
    if (leg.ended || leg.status !== 'in-progress') {
      throw new TwilioError(400, 21220, `Invalid call state: call ${leg.sid} is ${leg.status}; only an in-progress call can be recorded`);
    }
    const rec = E.recordCall(leg, {
      channels: channels === 'dual' ? 2 : 1, track, events,
      callbackUrl: b.RecordingStatusCallback as string | undefined, method: (b.RecordingStatusCallbackMethod as string | undefined) ?? 'POST',
    });
    return { status: 201, body: callRecordingJson(rec) };
  });

  on('GET', '/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json', (c) => {
    let all = ofCall(c);
    const q = c.query;
    // DateCreated (YYYY-MM-DD, UTC): that day; with `<` on or before it, with `>` on or after it.
    for (const op of ['', '<', '>'] as const) {
      const raw = q[`DateCreated${op}`];
      if (raw === undefined) continue;
      const day = Date.parse(`${String(raw)}T00:00:00Z`);
      if (Number.isNaN(day)) throw new TwilioError(400, 20001, `Invalid value for DateCreated${op}: ${String(raw)}`);
      all = all.filter((r) => (op === '<' ? r.dateCreated < day + 86_400_000 : op === '>' ? r.dateCreated >= day : r.dateCreated >= day && r.dateCreated < day + 86_400_000));
    }
    all.sort((a, b) => b.dateCreated - a.dateCreated);
    return { status: 200, body: page(all.map((r) => callRecordingJson(r)), 'recordings', c.pathname, q) };
  });

  const getRecording = (c: Ctx): Recording => {
    const sid = String(c.path.Sid);
    const r = sid === CURRENT
      ? ofCall(c).filter((x) => E.recordingLive(x.sid)).sort((a, b) => b.dateCreated - a.dateCreated)[0]
      : S.recordings.get(sid);
    if (!r || r.accountSid !== c.account.sid || r.callSid !== c.path.CallSid) throw notFound(c.pathname);
    return r;
  };

  on('GET', '/Accounts/{AccountSid}/Calls/{CallSid}/Recordings/{Sid}.json', (c) => ({ status: 200, body: callRecordingJson(getRecording(c)) }));

  on('POST', '/Accounts/{AccountSid}/Calls/{CallSid}/Recordings/{Sid}.json', (c) => {
    const status = oneOf('Status', c.body.Status, UPDATE_STATUSES) as 'in-progress' | 'paused' | 'stopped';
    const behavior = (oneOf('PauseBehavior', c.body.PauseBehavior, PAUSE_BEHAVIORS) ?? 'silence') as 'skip' | 'silence';
    const rec = getRecording(c);
    if (!E.recordingLive(rec.sid)) {
      throw new TwilioError(400, 21220, `Invalid recording state: recording ${rec.sid} is ${rec.status}; only a running or paused recording can be updated`);
    }
    const out = E.setRecordingStatus(rec.sid, status, behavior) as Recording;
    return { status: 200, body: callRecordingJson(out, status === 'stopped' ? 'stopped' : undefined) };
  });

  on('DELETE', '/Accounts/{AccountSid}/Calls/{CallSid}/Recordings/{Sid}.json', (c) => {
    const rec = getRecording(c);
    if (E.recordingLive(rec.sid)) E.setRecordingStatus(rec.sid, 'stopped', 'silence');
    S.deleteRecording(rec.sid, rec.dateUpdated);
    return { status: 204 };
  });
}
