import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';

/** The agent number the demo app forwards calls to. */
export const DEMO_AGENT = '+5511988880000';

/** A small TwiML app for the example scenarios: an IVR menu, whisper, queue, voicemail and outbound flows. Rejects unsigned requests. */
export async function startDemoApp(authToken: string, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const VR = twilio.twiml.VoiceResponse;
  const routes: Record<string, (p: Record<string, string>) => twilio.twiml.VoiceResponse> = {
    '/voice/inbound': () => {
      const r = new VR();
      r.say({ language: 'pt-BR' }, 'Olá, bem-vindo à central de atendimento. Esta ligação pode ser gravada.');
      r.gather({ numDigits: 1, action: '/voice/menu', timeout: 5 }).say({ language: 'pt-BR' }, 'Digite 1 para falar com um atendente, 2 para aguardar na fila, 3 para deixar recado.');
      r.say({ language: 'pt-BR' }, 'Não recebemos sua opção. Até logo.');
      return r;
    },
    '/voice/menu': (p) => {
      const r = new VR();
      if (p.Digits === '1') {
        r.dial({ action: '/voice/dial-result', timeout: 20, record: 'record-from-answer-dual', recordingStatusCallback: '/webhooks/recording' })
          .number({ url: '/voice/whisper' }, DEMO_AGENT);
      } else if (p.Digits === '2') {
        r.enqueue({ waitUrl: '/voice/queue-wait', action: '/voice/queue-result' }, 'suporte');
      } else if (p.Digits === '3') {
        r.redirect('/voice/voicemail');
      } else {
        r.say({ language: 'pt-BR' }, 'Opção inválida.');
        r.redirect('/voice/inbound');
      }
      return r;
    },
    '/voice/whisper': () => {
      const r = new VR();
      r.gather({ numDigits: 1, action: '/voice/whisper-accept', timeout: 5 }).say({ language: 'pt-BR' }, 'Chamada de cliente. Digite 1 para atender.');
      r.hangup();
      return r;
    },
    '/voice/whisper-accept': (p) => {
      const r = new VR();
      if (p.Digits !== '1') r.hangup();
      return r;
    },
    '/voice/dial-result': (p) => {
      const r = new VR();
      if (p.DialCallStatus === 'completed') r.hangup();
      else r.redirect('/voice/voicemail');
      return r;
    },
    '/voice/voicemail': () => {
      const r = new VR();
      r.say({ language: 'pt-BR' }, 'Deixe seu recado após o sinal.');
      r.record({ maxLength: 60, timeout: 3, action: '/voice/voicemail-done', recordingStatusCallback: '/webhooks/recording' });
      return r;
    },
    '/voice/voicemail-done': () => {
      const r = new VR();
      r.say({ language: 'pt-BR' }, 'Recado gravado. Obrigado.');
      r.hangup();
      return r;
    },
    '/voice/queue-wait': (p) => {
      const r = new VR();
      r.say({ language: 'pt-BR' }, `Você é o número ${p.QueuePosition ?? '?'} na fila.`);
      r.pause({ length: 5 });
      return r;
    },
    '/voice/queue-result': () => {
      const r = new VR();
      r.hangup();
      return r;
    },
    '/voice/outbound': (p) => {
      const r = new VR();
      if (p.AnsweredBy && p.AnsweredBy !== 'human' && p.AnsweredBy !== 'unknown') {
        r.hangup();
        return r;
      }
      r.say({ language: 'pt-BR' }, 'Olá, aqui é da central. Esta ligação pode ser gravada.');
      r.dial({ timeout: 20, action: '/voice/dial-result' }).number({ url: '/voice/whisper' }, DEMO_AGENT);
      return r;
    },
    '/voice/agent-queue': () => {
      const r = new VR();
      r.dial({ action: '/voice/queue-result' }).queue('suporte');
      return r;
    },
  };
  let base = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = base + (req.url ?? '/');
      const u = new URL(url);
      const params: Record<string, string> = {};
      const signed: Record<string, string> = {};
      if (req.method === 'POST') for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params[k] = signed[k] = v;
      else for (const [k, v] of u.searchParams) params[k] = v;
      if (!twilio.validateRequest(authToken, String(req.headers['x-twilio-signature'] ?? ''), url, signed)) {
        res.writeHead(403).end('invalid X-Twilio-Signature');
        return;
      }
      const route = routes[u.pathname];
      if (!route) {
        res.writeHead(u.pathname.startsWith('/webhooks/') ? 204 : 404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end(route(params).toString());
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
