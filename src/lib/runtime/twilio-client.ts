import twilio from 'twilio';
import RequestClientBase from 'twilio/lib/base/RequestClient';

/**
 * A RequestClient that sends every `https://<sub>.twilio.com` request to another base URL
 * (the local Twilio emulator). Production never sets TWILIO_API_BASE_URL, so there the
 * stock RequestClient is used and nothing here runs.
 */
export class RedirectingRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super();
  }

  override request<TData>(opts: RequestClientBase.RequestOptions<TData>) {
    return super.request<TData>({ ...opts, uri: rewriteTwilioUri(opts.uri, this.baseUrl) });
  }
}

/** Maps `https://api.twilio.com/2010-04-01/...` onto `${baseUrl}/2010-04-01/...`; other hosts keep their path. */
export function rewriteTwilioUri(uri: string, baseUrl: string): string {
  const m = /^https:\/\/[a-z0-9.-]*twilio\.com(\/.*)?$/i.exec(uri);
  if (!m) return uri;
  return baseUrl.replace(/\/$/, '') + (m[1] ?? '/');
}

/** Options for `new Twilio(...)` / `context.getTwilioClient(...)` honouring TWILIO_API_BASE_URL. */
export function twilioClientOptions(apiBaseUrl: string | undefined): twilio.ClientOpts {
  return apiBaseUrl ? { httpClient: new RedirectingRequestClient(apiBaseUrl) } : {};
}

/** A Twilio REST client for scripts and tests: same code against real Twilio or the emulator. */
export function createTwilioClient(accountSid: string, authToken: string, apiBaseUrl?: string): twilio.Twilio {
  return twilio(accountSid, authToken, twilioClientOptions(apiBaseUrl));
}
