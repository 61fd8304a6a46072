/**
 * A small typed validator for flat string maps (webhook parameters, environment variables).
 * It replaces a general schema library in the functions: loading one costs more than a
 * function's own code, and every value checked here is a string with a few rules.
 */

/** A value that breaks its field's rule; the message completes "<name> ...". */
export class FieldError extends Error {}

/** What a field sees while parsing: its name and where lenient fields report what they ignored. */
export interface FieldContext {
  name: string;
  /** Problems that did not stop parsing (lenient fields), as "<name> <message>". */
  ignored: string[];
}

/** One field: turns the raw string (undefined when absent) into a value, or throws FieldError. */
export class Field<T> {
  constructor(readonly parse: (raw: string | undefined, ctx: FieldContext) => T) {}

  /** This field, and then `check` on its value. */
  refine(check: (value: T) => boolean, message: string): Field<T> {
    return new Field((raw, ctx) => {
      const value = this.parse(raw, ctx);
      if (!check(value)) throw new FieldError(message);
      return value;
    });
  }

  /** Absent is allowed (undefined); a present value must still pass. */
  optional(): Field<T | undefined> {
    return new Field((raw, ctx) => (raw === undefined ? undefined : this.parse(raw, ctx)));
  }

  /** Absent gives `value`; a present value must still pass. */
  default(value: T): Field<T> {
    return new Field((raw, ctx) => (raw === undefined ? value : this.parse(raw, ctx)));
  }

  /**
   * Never fails: an absent or unusable value gives `fallback`, and the problem is reported
   * in ctx.ignored (for voice flows, which must serve the caller whatever Twilio sent).
   */
  orElse<F>(fallback: F): Field<T | F> {
    return new Field((raw, ctx) => {
      try {
        return this.parse(raw, ctx);
      } catch (e) {
        if (!(e instanceof FieldError)) throw e;
        ctx.ignored.push(raw === undefined ? `missing ${ctx.name}` : `${ctx.name} ${e.message}`);
        return fallback;
      }
    });
  }
}

/** Fields by name. */
export type Shape = Record<string, Field<unknown>>;

/** The parsed object of a shape. */
export type Infer<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** The outcome of parsing: the value, or every problem found (in field order). */
export type Parsed<S extends Shape> =
  | { ok: true; value: Infer<S>; ignored: string[] }
  | { ok: false; problems: string[]; ignored: string[] };

/** Parses the shape's fields out of raw; keys not in the shape are not looked at. */
export function parseShape<S extends Shape>(shape: S, raw: Record<string, string | undefined>): Parsed<S> {
  const value: Record<string, unknown> = {};
  const problems: string[] = [];
  const ignored: string[] = [];
  for (const [name, field] of Object.entries(shape)) {
    const input = Object.prototype.hasOwnProperty.call(raw, name) ? raw[name] : undefined;
    try {
      const v = field.parse(input, { name, ignored });
      if (v !== undefined) value[name] = v;
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      problems.push(input === undefined ? `missing ${name}` : `${name} ${e.message}`);
    }
  }
  return problems.length ? { ok: false, problems, ignored } : { ok: true, value: value as Infer<S>, ignored };
}

function required(raw: string | undefined): string {
  if (raw === undefined) throw new FieldError('is required');
  return raw;
}

/** A string of min..max characters (defaults 1..1000), optionally matching a pattern. */
export function text(opts: { min?: number; max?: number; pattern?: RegExp; message?: string } = {}): Field<string> {
  const min = opts.min ?? 1;
  const max = opts.max ?? 1000;
  return new Field((raw) => {
    const s = required(raw);
    if (s.length < min) throw new FieldError(min === 1 ? 'must not be empty' : `must have at least ${min} characters`);
    if (s.length > max) throw new FieldError(`must have at most ${max} characters`);
    if (opts.pattern && !opts.pattern.test(s)) throw new FieldError(opts.message ?? `must match ${String(opts.pattern)}`);
    return s;
  });
}

/** One of the listed strings, exactly. */
export function oneOf<const V extends readonly string[]>(values: V): Field<V[number]> {
  return new Field((raw) => {
    const s = required(raw);
    if (!(values as readonly string[]).includes(s)) throw new FieldError(`must be one of ${values.join(', ')}`);
    return s as V[number];
  });
}

/**
 * A whole number in decimal digits within [min, max]. Both bounds are required: a count or
 * a duration has a physical limit, and anything beyond it is an error, not a value to store.
 */
export function int(min: number, max: number): Field<number> {
  const digits = String(Math.max(Math.abs(min), Math.abs(max))).length;
  return new Field((raw) => {
    const s = required(raw);
    // The length check comes first so "1" followed by 300 zeros is refused without parsing.
    if (!/^-?\d+$/.test(s) || s.replace(/^-?0*/, '').length > digits) {
      throw new FieldError(`must be a whole number from ${min} to ${max}`);
    }
    const n = Number(s);
    if (n < min || n > max) throw new FieldError(`must be a whole number from ${min} to ${max}`);
    return n;
  });
}

/** An absolute http(s) URL. */
export function httpUrl(): Field<string> {
  return new Field((raw) => {
    const s = required(raw);
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new FieldError('must be an http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FieldError('must be an http(s) URL');
    return s;
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// RFC 2822 section 3.3 date-time, with a numeric zone or the obsolete UT/GMT (what Twilio sends:
// "Wed, 25 Nov 2026 19:22:40 +0000").
const RFC2822 = /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2})(?::(\d{2}))? ([+-]\d{4}|UT|GMT)$/;

/** Parses an RFC 2822 date-time strictly (a real calendar date and time), or returns null. */
export function parseRfc2822(s: string): Date | null {
  const m = RFC2822.exec(s);
  if (!m) return null;
  const [, d, mon, y, hh, mm, ss, zone] = m as unknown as [string, string, string, string, string, string, string | undefined, string];
  const day = Number(d);
  const month = MONTHS.indexOf(mon);
  const year = Number(y);
  const [h, mi, se] = [Number(hh), Number(mm), Number(ss ?? '0')];
  if (h > 23 || mi > 59 || se > 60) return null;
  const utc = Date.UTC(year, month, day, h, mi, Math.min(se, 59));
  // Date.UTC rolls 31 Feb over into March; a date that does not exist is refused instead.
  if (new Date(utc).getUTCDate() !== day) return null;
  let offsetMin = 0;
  if (zone !== 'UT' && zone !== 'GMT') {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(3, 5));
    if (zh > 23 || zm > 59) return null;
    offsetMin = (zone.startsWith('-') ? -1 : 1) * (zh * 60 + zm);
  }
  return new Date(utc - offsetMin * 60_000);
}

/**
 * An RFC 2822 date-time within [notBefore, now + maxAheadMs], returned as ISO 8601.
 * `now` is read at each parse, so a warm function container does not age its bounds.
 */
export function rfc2822Date(opts: { notBefore: Date; maxAheadMs: number; now?: () => number }): Field<string> {
  const now = opts.now ?? Date.now;
  return new Field((raw) => {
    const s = required(raw);
    const date = parseRfc2822(s);
    if (!date) throw new FieldError('must be an RFC 2822 date like "Wed, 25 Nov 2026 19:22:40 +0000"');
    if (date.getTime() < opts.notBefore.getTime()) throw new FieldError(`must not be before ${opts.notBefore.toISOString()}`);
    if (date.getTime() > now() + opts.maxAheadMs) {
      throw new FieldError(`must not be more than ${Math.round(opts.maxAheadMs / 3_600_000)} h in the future`);
    }
    return date.toISOString();
  });
}
