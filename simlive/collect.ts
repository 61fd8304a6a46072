/**
 * Reads what the violation detectors judge: the calls the emulator placed (what Twilio would
 * have dialed) and the database's rows (opt-outs, the campaign's window, holidays, caps, every
 * dial attempt). One function, so the run and the tests that plant violations share it.
 */
import type { Client } from 'pg';
import type { Emulator } from '../emulator';
import { campaignWindowProfile, dddOf, isOpenFor, type CampaignWindowColumns } from './contract';
import { callerIdCapBreaks, callsWithoutRows, cpsBreaks, optedOutDialed, outOfWindow, type Finding, type PlacedCall } from './violations';

const ms = (v: Date | string) => new Date(v).getTime();

/**
 * Every finding for one campaign's day. CPS counts every dial attempt of the account (all
 * campaigns and click-to-call share ACCOUNT_CPS); rows and calls are matched account-wide.
 */
export async function collectFindings(db: Client, emu: Emulator, o: { campaignId: number; cps: number }): Promise<{ findings: Finding[]; placed: PlacedCall[] }> {
  const placed = emu.calls().filter((c) => c.direction === 'outbound-api').map((c) => ({ sid: c.sid, to: c.to, from: c.from, createdMs: c.createdMs }));
  const { rows: optRows } = await db.query<{ phone_number: string; created_at: Date }>('select phone_number, created_at from public.opt_outs');
  const { rows: [campaign] } = await db.query<CampaignWindowColumns>(
    `select window_profile, weekday_start::text, weekday_end::text, saturday_start::text, saturday_end::text, allow_sunday,
            sunday_start::text, sunday_end::text, skip_holidays from public.campaigns where id = $1`,
    [o.campaignId],
  );
  if (!campaign) throw new Error(`campaign ${o.campaignId} not found`);
  const profile = campaignWindowProfile(campaign);
  const { rows: holidays } = await db.query<{ day: string; uf: string | null }>(
    `select day::text, uf from public.calling_holidays where campaign_id is null or campaign_id = $1`,
    [o.campaignId],
  );
  const { rows: caps } = await db.query<{ phone_number: string; daily_cap: number }>('select phone_number, daily_cap from public.phone_numbers');
  const { rows: attempts } = await db.query<{ id: string; call_sid: string | null; to_number: string; created_at: Date; campaign_id: string | null }>(
    `select id, call_sid, to_number, created_at, campaign_id from public.calls where direction = 'outbound-api'`,
  );
  const findings: Finding[] = [
    ...optedOutDialed(placed, optRows.map((r) => ({ phone: r.phone_number, createdMs: ms(r.created_at) }))),
    ...outOfWindow(
      attempts.filter((r) => Number(r.campaign_id) === o.campaignId).map((r) => ({ id: r.id, to: r.to_number, ddd: dddOf(r.to_number), createdMs: ms(r.created_at) })),
      (ddd, t) => isOpenFor(ddd, profile, t, holidays),
    ),
    ...callerIdCapBreaks(placed, new Map(caps.map((r) => [r.phone_number, r.daily_cap]))),
    ...cpsBreaks(attempts.map((r) => ms(r.created_at)), o.cps),
    ...callsWithoutRows(placed.map((p) => p.sid), attempts.map((r) => r.call_sid)),
  ];
  return { findings, placed };
}
