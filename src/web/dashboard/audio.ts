/**
 * Where the supervisor hears a monitoring: the page's choice between the browser (a Voice SDK
 * Device registered as supervisor-<user id>) and a phone number, and the pt-BR sentences for
 * what can go wrong before the server is asked anything. No DOM here (unit-tested in Node).
 */
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

/** The microphone could not be opened (main.ts's check): `message` says why, in pt-BR. */
export class MicrophoneError extends Error {}

/** The hint every browser-audio failure ends with. */
export const USE_PHONE_HINT = 'Para ouvir agora, escolha "telefone" e informe um número.';

/** A failure while getting the browser's audio ready (before the monitoring was asked for), in pt-BR. */
export function audioSetupErrorText(e: unknown): string {
  if (e instanceof MicrophoneError) return `${e.message} ${USE_PHONE_HINT}`;
  // An /api refusal (the page's ApiError, told by its stable code; no DOM client imported here).
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code === 'softphone_not_configured') return `O áudio no navegador não está configurado neste servidor. ${USE_PHONE_HINT}`;
    if (code === 'network') return 'Sem conexão com o servidor. Verifique a rede.';
    return `Não foi possível obter o acesso de áudio (${code}). ${USE_PHONE_HINT}`;
  }
  const why = e instanceof Error && e.message ? ` (${e.message})` : '';
  return `O áudio no navegador não conectou${why}. Tente de novo. ${USE_PHONE_HINT}`;
}
