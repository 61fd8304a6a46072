/**
 * The Applications (TwiML Apps) and Keys (API keys) resources of the 2010-04-01 API: what a
 * Voice SDK deployment creates once per account (an API key to sign AccessTokens, a TwiML App
 * whose VoiceUrl answers `Device.connect()`).
 */
import { randomBytes } from 'node:crypto';
import { type ApiKeyRecord, type Application, type Store, accountPath, snake } from '../state';
import { API_VERSION, newSid, rfc2822 } from '../util';
import type { Handler } from './api';
import { notFound, page } from './http';

/** The JSON Twilio returns for a key (the secret only on create). */
function keyJson(k: ApiKeyRecord, withSecret = false): Record<string, unknown> {
  const j: Record<string, unknown> = { sid: k.sid, friendly_name: k.friendlyName, date_created: rfc2822(k.dateCreated), date_updated: rfc2822(k.dateUpdated) };
  if (withSecret) j.secret = k.secret;
  return j;
}

/** Application fields (PascalCase form name → JSON) and their defaults. */
const APP_DEFAULTS: Record<string, unknown> = {
  friendly_name: null, voice_url: null, voice_method: 'POST', voice_fallback_url: null, voice_fallback_method: 'POST', status_callback: null,
  status_callback_method: 'POST', voice_caller_id_lookup: false, sms_url: null, sms_method: 'POST', sms_fallback_url: null, sms_fallback_method: 'POST',
  sms_status_callback: null, message_status_callback: null, public_application_connect_enabled: true,
};

function applyAppFields(app: Application, body: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(body)) {
    const field = snake(k);
    if (field === 'api_version') app.json.api_version = String(v);
    else if (field in APP_DEFAULTS) app.json[field] = typeof v === 'boolean' ? v : String(v);
  }
}

/** Registers the Applications and Keys operations (requests are already checked against the OpenAPI). */
export function applicationRoutes(on: (method: string, template: string, h: Handler) => void, d: { store: Store; now: () => number }): void {
  const S = d.store;

  const getApp = (accountSid: string, sid: string, path: string) => {
    const a = S.applications.get(sid);
    if (!a || a.accountSid !== accountSid) throw notFound(path);
    return a;
  };
  on('POST', '/Accounts/{AccountSid}/Applications.json', (c) => {
    const sid = newSid('AP');
    const t = rfc2822(d.now());
    const app: Application = {
      sid, accountSid: c.account.sid,
      json: { ...APP_DEFAULTS, account_sid: c.account.sid, api_version: API_VERSION, sid, date_created: t, date_updated: t, uri: `${accountPath(c.account.sid)}/Applications/${sid}.json` },
    };
    applyAppFields(app, c.body);
    S.applications.set(sid, app);
    return { status: 201, body: app.json };
  });
  on('GET', '/Accounts/{AccountSid}/Applications.json', (c) => {
    let all = [...S.applications.values()].filter((a) => a.accountSid === c.account.sid);
    if (c.query.FriendlyName !== undefined) all = all.filter((a) => a.json.friendly_name === c.query.FriendlyName);
    return { status: 200, body: page(all.map((a) => a.json), 'applications', c.pathname, c.query) };
  });
  on('GET', '/Accounts/{AccountSid}/Applications/{Sid}.json', (c) => ({ status: 200, body: getApp(c.account.sid, c.path.Sid as string, c.pathname).json }));
  on('POST', '/Accounts/{AccountSid}/Applications/{Sid}.json', (c) => {
    const app = getApp(c.account.sid, c.path.Sid as string, c.pathname);
    applyAppFields(app, c.body);
    app.json.date_updated = rfc2822(d.now());
    return { status: 200, body: app.json };
  });
  on('DELETE', '/Accounts/{AccountSid}/Applications/{Sid}.json', (c) => {
    S.applications.delete(getApp(c.account.sid, c.path.Sid as string, c.pathname).sid);
    return { status: 204 };
  });

  const getKey = (accountSid: string, sid: string, path: string) => {
    const k = S.keys.get(sid);
    if (!k || k.accountSid !== accountSid) throw notFound(path);
    return k;
  };
  on('POST', '/Accounts/{AccountSid}/Keys.json', (c) => {
    const t = d.now();
    // A Standard key; the secret is in this answer only (fetch and list never return it, as the OpenAPI's `key` schema has no secret).
    const k: ApiKeyRecord = {
      sid: newSid('SK'), accountSid: c.account.sid, friendlyName: c.body.FriendlyName === undefined ? '' : String(c.body.FriendlyName),
      secret: randomBytes(24).toString('base64url'), dateCreated: t, dateUpdated: t,
    };
    S.keys.set(k.sid, k);
    return { status: 201, body: keyJson(k, true) };
  });
  on('GET', '/Accounts/{AccountSid}/Keys.json', (c) => ({
    status: 200, body: page([...S.keys.values()].filter((k) => k.accountSid === c.account.sid).map((k) => keyJson(k)), 'keys', c.pathname, c.query),
  }));
  on('GET', '/Accounts/{AccountSid}/Keys/{Sid}.json', (c) => ({ status: 200, body: keyJson(getKey(c.account.sid, c.path.Sid as string, c.pathname)) }));
  on('POST', '/Accounts/{AccountSid}/Keys/{Sid}.json', (c) => {
    const k = getKey(c.account.sid, c.path.Sid as string, c.pathname);
    if (c.body.FriendlyName !== undefined) k.friendlyName = String(c.body.FriendlyName);
    k.dateUpdated = d.now();
    return { status: 200, body: keyJson(k) };
  });
  on('DELETE', '/Accounts/{AccountSid}/Keys/{Sid}.json', (c) => {
    S.keys.delete(getKey(c.account.sid, c.path.Sid as string, c.pathname).sid);
    return { status: 204 };
  });
}
