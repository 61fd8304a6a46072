/**
 * The dashboard's monitoring audio choice (src/web/dashboard/audio.ts): the phone a supervisor
 * types becomes E.164 or is refused before anything is sent, and a failure to get the
 * browser's audio ready is a pt-BR sentence that points to the phone.
 */

/** Shaped like the page's ApiError (src/web/agent/api.ts, which needs the DOM). */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
import { MicrophoneError, USE_PHONE_HINT, audioSetupErrorText, monitorPhone } from '../../src/web/dashboard/audio';

describe('monitorPhone', () => {
  it.each([
    ['(11) 91234-5678', '+5511912345678'],
    ['11912345678', '+5511912345678'],
    ['011 91234 5678', '+5511912345678'],
    ['55 11 91234-5678', '+5511912345678'],
    ['(21) 3000-2002', '+552130002002'],
    ['+55 11 91234-5678', '+5511912345678'],
    ['+1 415 555 0100', '+14155550100'],
  ])('%s → %s', (typed, e164) => expect(monitorPhone(typed)).toBe(e164));

  it.each([[''], ['   '], ['11 9'], ['(11) 81234-5678'], ['(01) 91234-5678'], ['1234567890123'], ['+0 11 91234'], ['11 91234-5678 ramal 2'], ['+12']])(
    'refuses %j',
    (typed) => expect(monitorPhone(typed)).toBeNull(),
  );
});

describe('audioSetupErrorText', () => {
  it('says why the browser cannot play the monitoring, and that a phone works', () => {
    expect(audioSetupErrorText(new MicrophoneError('O acesso ao microfone foi negado.'))).toBe(`O acesso ao microfone foi negado. ${USE_PHONE_HINT}`);
    expect(audioSetupErrorText(new ApiError(503, 'softphone_not_configured', 'x'))).toBe(`O áudio no navegador não está configurado neste servidor. ${USE_PHONE_HINT}`);
    expect(audioSetupErrorText(new ApiError(0, 'network', 'x'))).toBe('Sem conexão com o servidor. Verifique a rede.');
    expect(audioSetupErrorText(new ApiError(409, 'conflict', 'x'))).toBe(`Não foi possível obter o acesso de áudio (conflict). ${USE_PHONE_HINT}`);
    expect(audioSetupErrorText(new Error('não foi possível carregar /softphone.js'))).toBe(
      `O áudio no navegador não conectou (não foi possível carregar /softphone.js). Tente de novo. ${USE_PHONE_HINT}`,
    );
  });
});
