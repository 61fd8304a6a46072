import { XMLParser } from 'fast-xml-parser';

/** One TwiML element: its verb or noun name, attributes, text and children, in order. */
export interface TwimlNode {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: TwimlNode[];
}

const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, parseAttributeValue: false, trimValues: true });

type Ordered = Record<string, unknown> & { ':@'?: Record<string, string> };

function toNode(entry: Ordered): TwimlNode | null {
  const name = Object.keys(entry).find((k) => k !== ':@');
  if (!name || name === '#text' || name === '?xml') return null;
  const raw = (entry[name] as Ordered[]) ?? [];
  const text = raw.filter((c) => '#text' in c).map((c) => String(c['#text'])).join('');
  return { name, attrs: entry[':@'] ?? {}, text, children: raw.map(toNode).filter((n): n is TwimlNode => n !== null) };
}

/** Parses a TwiML document and returns its <Response> (throws when it is not TwiML). */
export function parseTwiml(xml: string): TwimlNode {
  const doc = (parser.parse(xml) as Ordered[]).map(toNode).filter((n): n is TwimlNode => n !== null);
  const response = doc.find((n) => n.name === 'Response');
  if (!response) throw new Error(`not TwiML: ${xml.slice(0, 200)}`);
  return response;
}

/** The verbs of a response (or the children of any node) by name, e.g. ['Play', 'Dial']. */
export function verbNames(node: TwimlNode): string[] {
  return node.children.map((c) => c.name);
}

/** The first descendant with this name, depth first. */
export function find(node: TwimlNode, name: string): TwimlNode | undefined {
  for (const c of node.children) {
    if (c.name === name) return c;
    const hit = find(c, name);
    if (hit) return hit;
  }
  return undefined;
}
