/**
 * The day's data, written in the simulation's own database before the shift: the campaign
 * (predictive, its settings from the scenario), the caller-ID pool over several DDDs (also
 * registered on the emulator, which refuses a From the account does not own), the agents with
 * their logins, and the leads with the opted-out ones on the opt-out list. Plain SQL through
 * the product's own functions where there is one (auth_create_user for logins).
 */
import type { Client } from 'pg';
import type { Emulator } from '../emulator';
import type { Scenario } from '../simulator/scenario';
import { hashPassword } from '../src/lib/domain/auth/password';
import type { DispositionChoice } from './agents';
import type { LeadSpec } from './leads';

/** The campaign's dispositions (code, label, what it does to the lead) and how often agents pick each. */
export const SIM_DISPOSITIONS: readonly (DispositionChoice & { label: string; outcome: 'done' | 'retry' | 'callback' | 'opt_out' })[] = [
  { code: 'acordo', label: 'Acordo fechado', outcome: 'done', weight: 25 },
  { code: 'promessa_pagamento', label: 'Promessa de pagamento', outcome: 'done', weight: 20 },
  { code: 'recusa', label: 'Recusou', outcome: 'done', weight: 20 },
  { code: 'sem_interesse', label: 'Sem interesse', outcome: 'done', weight: 12 },
  { code: 'numero_errado', label: 'Número errado', outcome: 'done', weight: 5 },
  { code: 'outro', label: 'Outro', outcome: 'retry', weight: 5 },
  { code: 'retornar', label: 'Retornar em…', outcome: 'callback', weight: 8, callbackMinutes: 60 },
  { code: 'nao_ligar', label: 'Não ligar mais', outcome: 'opt_out', weight: 5 },
];

/** The password every emulated agent signs in with (local, throwaway database). */
export const SIM_PASSWORD = 'simulacao-campanha-2026';

/** Area codes of the caller-ID pool: one per region, the three time zones included. */
const POOL_DDDS = [11, 21, 31, 41, 51, 61, 71, 81, 85, 91, 92, 65, 67, 68];

export interface Seeded {
  campaignId: number;
  agents: { id: number; email: string }[];
  pool: string[];
  leadCount: number;
  optedOut: string[];
}

/** Writes the campaign, pool, agents and leads; registers every active pool number on the emulator. */
export async function seedDay(
  db: Client,
  emu: Emulator,
  o: { scenario: Scenario; agents: number; leads: readonly LeadSpec[]; poolSize: number; dailyCap: number; functionsUrl: string; tag: string; amdHumanAccuracy?: number },
): Promise<Seeded> {
  const s = o.scenario;
  const { rows: [campaign] } = await db.query<{ id: string }>(
    `insert into public.campaigns (name, kind, mode, dial_ratio, max_lines, abandon_cap, calls_per_second, status,
       pacing_behaviour, window_profile, amd_machine, amd_unknown, amd_human_accuracy, whisper_template, dispositions,
       abandon_treatment, company_name, disclaimer_seconds, ring_timeout, max_attempts)
     values ($1, 'collections', 'predictive', 4, $2, $3, $4, 'draft', 'ADAPT_TAPERED', 'collections_sp', 'hangup', 'connect', $5,
       'Cliente {nome}, {dias_atraso} dias de atraso, valor R$ {valor}', $6::jsonb, 'callback', 'Discador Simulações', $7, $8, 6)
     returning id`,
    [
      `Simulação ${o.tag}`, s.campaign.maxLines, s.campaign.abandonCap, s.campaign.cps, Math.min(1, Math.max(0.001, o.amdHumanAccuracy ?? s.amd.humanAccuracy)),
      JSON.stringify(SIM_DISPOSITIONS.map(({ code, label, outcome }) => ({ code, label, outcome }))), s.disclaimerS,
      Math.min(60, Math.max(5, Math.round(s.ring.noAnswerTimeoutS))),
    ],
  );
  const campaignId = Number(campaign!.id);

  const pool: string[] = [];
  for (let i = 0; i < o.poolSize; i++) {
    const ddd = POOL_DDDS[i % POOL_DDDS.length]!;
    pool.push(`+55${ddd}3${String(700_0000 + i).padStart(7, '0')}`);
  }
  await db.query(
    `insert into public.phone_numbers (phone_number, friendly_name, number_type, daily_cap)
     select n, 'Pool simulação ' || n, 'local', $2 from unnest($1::text[]) n`,
    [pool, o.dailyCap],
  );
  const { rows: active } = await db.query<{ phone_number: string }>('select phone_number from public.phone_numbers where is_active');
  for (const n of active) {
    emu.addNumber({ phoneNumber: n.phone_number, voiceUrl: `${o.functionsUrl}/voice/inbound`, statusCallback: `${o.functionsUrl}/webhooks/call-status` });
  }

  const hash = await hashPassword(SIM_PASSWORD);
  const agents: Seeded['agents'] = [];
  for (let i = 1; i <= o.agents; i++) {
    const email = `agente${String(i).padStart(3, '0')}.${o.tag}@sim.discador.test`;
    await db.query(`select public.auth_create_user($1, $2, 'agent', $3, $4, null)`, [email, `Agente ${i}`, hash, `sim_${o.tag}_${i}`]);
    const { rows: [a] } = await db.query<{ id: string }>(`update public.agents set campaign_id = $2 where lower(email) = lower($1) returning id`, [email, campaignId]);
    agents.push({ id: Number(a!.id), email });
  }

  await db.query(
    `insert into public.leads (campaign_id, phone_number, name, data)
     select $1, p, n, d from unnest($2::text[], $3::text[], $4::jsonb[]) as t(p, n, d)`,
    [campaignId, o.leads.map((l) => l.phone), o.leads.map((l) => l.name), o.leads.map((l) => JSON.stringify(l.fields))],
  );
  const optedOut = o.leads.filter((l) => l.optedOut).map((l) => l.phone);
  if (optedOut.length) {
    await db.query(
      `insert into public.opt_outs (phone_number, reason, source) select p, 'listed before the simulated day', 'import' from unnest($1::text[]) p on conflict do nothing`,
      [optedOut],
    );
  }
  return { campaignId, agents, pool, leadCount: o.leads.length, optedOut };
}
