/**
 * Where the supervisor hears a monitoring: the page's choice between the browser (a Voice SDK
 * Device registered as supervisor-<user id>) and a phone number, the microphone the browser
 * needs, and the pt-BR sentences for what can go wrong before the server is asked anything.
 */
import { ApiError } from '../agent/api';
import { micErrorText } from '../agent/mic';

/**
 * A phone typed by a person as E.164, or null when it is not one: "+<country><number>" as
 * typed, or a Brazilian number with its area code (10 or 11 digits, optionally after 55 or a
 * leading 0 carrier-less trunk prefix). The server checks the format again.
 */
export function monitorPhone(raw: string): string | null {
  const text = raw.trim();
  if (!text) return null;
  if (/[^\d\s().+-]/.test(text)) return null;
  const digits = text.replace(/\D/g, '');
  if (text.startsWith('+')) return /^[1-9]\d{7,14}$/.test(digits) ? `+${digits}` : null;
  const national = digits.replace(/^0(?=\d{10,11}$)/, '').replace(/^55(?=\d{10,11}$)/, '');
  // Area code 11–99, then 8 digits (landline) or 9 digits starting with 9 (mobile).
  return /^[1-9][1-9](?:[2-8]\d{7}|9\d{8})$/.test(national) ? `+55${national}` : null;
}

/** The microphone could not be opened: `message` says why, in pt-BR. */
export class MicrophoneError extends Error {}

/**
 * Opens the microphone once and closes it again, so the browser's permission prompt comes
 * before the Device is created (Twilio's advice for error 31401, "UserMedia Permission
 * Denied": twilio.com/docs/api/errors/31401). The Voice SDK's accept() opens the microphone
 * for every call it answers, listening included, so every browser monitoring needs it.
 */
export async function ensureMicrophone(): Promise<void> {
  if (!navigator.mediaDevices?.getUserMedia) throw new MicrophoneError(micErrorText(null));
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  } catch (e) {
    throw new MicrophoneError(micErrorText(e));
  }
  for (const t of stream.getTracks()) t.stop();
}

/** The hint every browser-audio failure ends with. */
export const USE_PHONE_HINT = 'Para ouvir agora, escolha "telefone" e informe um número.';

/** A failure while getting the browser's audio ready (before the monitoring was asked for), in pt-BR. */
export function audioSetupErrorText(e: unknown): string {
  if (e instanceof MicrophoneError) return `${e.message} ${USE_PHONE_HINT}`;
  if (e instanceof ApiError) {
    if (e.code === 'softphone_not_configured') return `O áudio no navegador não está configurado neste servidor. ${USE_PHONE_HINT}`;
    if (e.code === 'network') return 'Sem conexão com o servidor. Verifique a rede.';
    return `Não foi possível obter o acesso de áudio (${e.code}). ${USE_PHONE_HINT}`;
  }
  const why = e instanceof Error && e.message ? ` (${e.message})` : '';
  return `O áudio no navegador não conectou${why}. Tente de novo. ${USE_PHONE_HINT}`;
}
