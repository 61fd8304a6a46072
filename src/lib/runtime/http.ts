import type { TwilioResponse } from '@twilio-labs/serverless-runtime-types/types';
import type twilio from 'twilio';

type ResponseClass = new () => TwilioResponse;

/** Twilio's Response class, a global inside the Functions runtime (and twilio-run). */
function responseClass(): ResponseClass {
  const g = globalThis as { Twilio?: { Response?: ResponseClass } };
  if (!g.Twilio?.Response) throw new Error('Twilio.Response is not available outside the Functions runtime');
  return g.Twilio.Response;
}

/** An HTTP response with a status, a content type and a body. */
export function httpResponse(status: number, body: string | object, contentType?: string): TwilioResponse {
  const res = new (responseClass())();
  res.setStatusCode(status);
  const isText = typeof body === 'string';
  res.appendHeader('Content-Type', contentType ?? (isText ? 'text/plain; charset=utf-8' : 'application/json'));
  res.setBody(body);
  return res;
}

/** 200 with TwiML. */
export function twimlResponse(twiml: twilio.twiml.VoiceResponse | twilio.twiml.MessagingResponse): TwilioResponse {
  return httpResponse(200, twiml.toString(), 'text/xml; charset=utf-8');
}

/** A request we refuse: status plus a machine-readable code and a reason in words. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** 400: the request is malformed; nothing was written. */
export class BadRequest extends HttpError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

/** The JSON body of an error response. */
export function errorResponse(err: HttpError): TwilioResponse {
  return httpResponse(err.status, { error: err.code, message: err.message });
}
