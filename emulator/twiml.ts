import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** One TwiML element: verb or noun, its attributes, child elements and text content. */
export interface TwimlNode {
  name: string;
  attrs: Record<string, string>;
  children: TwimlNode[];
  text: string;
}

/** A TwiML document that could not be parsed or breaks TwiML's nesting rules (Twilio error 12100). */
export class TwimlError extends Error {
  /** Twilio error code to report. */
  readonly code = 12100;
}

/** Voice verbs the emulator runs, and the element names each may contain. */
export const VERB_CHILDREN: Record<string, string[]> = {
  Say: ['break', 'emphasis', 'lang', 'p', 'phoneme', 'prosody', 's', 'say-as', 'sub', 'w'],
  Play: [],
  Pause: [],
  Gather: ['Say', 'Play', 'Pause'],
  Dial: ['Number', 'Client', 'Sip', 'Queue', 'Conference'],
  Enqueue: ['Task'],
  Leave: [],
  Record: [],
  Redirect: [],
  Hangup: [],
  Reject: [],
};

/** Verbs Twilio has that the emulator knows of but does not run (reported as unsupported). */
export const UNSUPPORTED_VERBS = ['Connect', 'Conference', 'Echo', 'Pay', 'Prompt', 'Refer', 'Sms', 'Start', 'Stop', 'Stream', 'Siprec', 'Transcription'];

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  trimValues: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
});

type Raw = Record<string, unknown>;

function convert(raw: Raw): TwimlNode | string | undefined {
  const attrs = (raw[':@'] as Record<string, string> | undefined) ?? {};
  for (const key of Object.keys(raw)) {
    if (key === ':@') continue;
    if (key === '#text') return String(raw[key] ?? '');
    if (key.startsWith('?') || key === '#comment') return undefined;
    const kids = (raw[key] as Raw[]) ?? [];
    const node: TwimlNode = { name: key, attrs: { ...attrs }, children: [], text: '' };
    const texts: string[] = [];
    for (const k of kids) {
      const c = convert(k);
      if (typeof c === 'string') texts.push(c);
      else if (c) {
        node.children.push(c);
        if (c.text) texts.push(c.text);
      }
    }
    node.text = texts.join(' ').replace(/\s+/g, ' ').trim();
    return node;
  }
  return undefined;
}

/** Parses a TwiML voice document into its `<Response>` element; throws TwimlError when invalid. */
export function parseTwiml(xml: string): TwimlNode {
  const trimmed = xml.trim();
  if (!trimmed) throw new TwimlError('empty document');
  const valid = XMLValidator.validate(trimmed);
  if (valid !== true) throw new TwimlError(`invalid XML: ${valid.err.msg} (line ${valid.err.line})`);
  const roots = (parser.parse(trimmed) as Raw[]).map(convert).filter((n): n is TwimlNode => typeof n === 'object');
  const root = roots[0];
  if (!root || roots.length !== 1 || root.name !== 'Response') {
    throw new TwimlError(`the root element must be <Response>, got ${roots.map((r) => `<${r.name}>`).join(', ') || 'none'}`);
  }
  for (const verb of root.children) {
    if (UNSUPPORTED_VERBS.includes(verb.name)) continue;
    const allowed = VERB_CHILDREN[verb.name];
    if (!allowed) throw new TwimlError(`<${verb.name}> is not a TwiML voice verb`);
    for (const child of verb.children) {
      if (!allowed.includes(child.name)) throw new TwimlError(`<${child.name}> cannot be nested in <${verb.name}>`);
    }
  }
  return root;
}

/** Estimated speaking time of `<Say>` text in seconds (about 15 characters per second, at least 1 s). */
export function sayDuration(text: string): number {
  return Math.max(1, Math.ceil(text.length / 15));
}

/** A reply a messaging TwiML document asks Twilio to send (`<Message>`). */
export interface MessagingReply {
  body: string;
  /** The `to`/`from` attributes when given (Twilio defaults: the sender, and the number written to). */
  to?: string;
  from?: string;
}

/**
 * Reads the answer to an incoming-message webhook: an empty body or an empty `<Response/>`
 * sends nothing; each `<Message>` (text, or a `<Body>` child; `<Media>` ignored) is a reply
 * (https://www.twilio.com/docs/messaging/twiml/message). `<Redirect>` is not followed.
 * Throws TwimlError (12100) on a document Twilio could not read.
 */
export function parseMessagingTwiml(xml: string): MessagingReply[] {
  const trimmed = xml.trim();
  if (!trimmed) return [];
  const valid = XMLValidator.validate(trimmed);
  if (valid !== true) throw new TwimlError(`invalid XML: ${valid.err.msg} (line ${valid.err.line})`);
  const roots = (parser.parse(trimmed) as Raw[]).map(convert).filter((n): n is TwimlNode => typeof n === 'object');
  const root = roots[0];
  if (!root || roots.length !== 1 || root.name !== 'Response') {
    throw new TwimlError(`the root element must be <Response>, got ${roots.map((r) => `<${r.name}>`).join(', ') || 'none'}`);
  }
  const replies: MessagingReply[] = [];
  for (const verb of root.children) {
    if (verb.name === 'Redirect') continue;
    if (verb.name !== 'Message') throw new TwimlError(`<${verb.name}> is not a TwiML messaging verb`);
    const body = verb.children.find((c) => c.name === 'Body');
    for (const c of verb.children) if (c.name !== 'Body' && c.name !== 'Media') throw new TwimlError(`<${c.name}> cannot be nested in <Message>`);
    replies.push({ body: body ? body.text : verb.text, ...(verb.attrs['to'] ? { to: verb.attrs['to'] } : {}), ...(verb.attrs['from'] ? { from: verb.attrs['from'] } : {}) });
  }
  return replies;
}
