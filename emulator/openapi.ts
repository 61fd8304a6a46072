import Ajv, { type ValidateFunction, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Location of Twilio's official OpenAPI description of the 2010-04-01 REST API. */
export const SPEC_PATH = path.join(
  path.dirname(require.resolve('@twilio-alpha/mcp/package.json')),
  'twilio-oai/spec/json/twilio_api_v2010.json',
);

/** A request that broke Twilio's published contract. */
export interface ContractViolation {
  method: string;
  path: string;
  operation?: string;
  errors: string[];
}

/** The spec operation a request matched, with its path parameters. */
export interface MatchedOperation {
  template: string;
  operationId: string;
  pathParams: Record<string, string>;
}

interface SpecParam {
  name: string;
  in: string;
  required?: boolean;
  schema?: Record<string, unknown>;
}
interface SpecOperation {
  operationId: string;
  parameters?: SpecParam[];
  requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> };
}
type Spec = { paths: Record<string, Record<string, SpecOperation>>; components: Record<string, unknown> };

interface Compiled {
  path: ValidateFunction;
  query: ValidateFunction;
  body?: ValidateFunction;
}

function rewriteRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#/')) out[k] = 'twilio-api-v2010' + x;
      else if (k === 'examples' || k === 'description' || k === 'x-twilio') continue;
      else out[k] = rewriteRefs(x);
    }
    return out;
  }
  return v;
}

function formatError(where: string, e: ErrorObject): string {
  const field = e.instancePath ? e.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
  if (e.keyword === 'additionalProperties') {
    return `${where}: unknown parameter '${String(e.params.additionalProperty)}'`;
  }
  if (e.keyword === 'required') return `${where}: missing required parameter '${String(e.params.missingProperty)}'`;
  if (e.keyword === 'enum') {
    return `${where}: '${field}' must be one of ${(e.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
  }
  return `${where}: '${field}' ${e.message ?? e.keyword}`;
}

/** Validates REST requests against twilio_api_v2010.json (paths, path/query parameters, form bodies). */
export class ContractValidator {
  private readonly spec: Spec;
  private readonly ajv: Ajv;
  private readonly routes: { template: string; re: RegExp; names: string[] }[];
  private readonly compiled = new Map<string, Compiled>();

  constructor(specPath = SPEC_PATH) {
    this.spec = JSON.parse(readFileSync(specPath, 'utf8')) as Spec;
    this.ajv = new Ajv({ strict: false, allErrors: true, coerceTypes: 'array', useDefaults: false });
    addFormats(this.ajv, ['uri', 'date', 'date-time']);
    for (const f of ['date-time-rfc-2822', 'uri-map', 'iso-country-code', 'http-method', 'phone-number', 'phone-number-capabilities', 'currency', 'ice-server', 'int64', 'endpoint', 'twiml']) {
      this.ajv.addFormat(f, true);
    }
    this.ajv.addSchema(rewriteRefs({ components: this.spec.components }) as object, 'twilio-api-v2010');
    this.routes = Object.keys(this.spec.paths).map((template) => {
      const names: string[] = [];
      const re = new RegExp(
        '^' +
          template
            .split(/(\{[^}]+\})/)
            .map((part) => {
              const m = /^\{(.+)\}$/.exec(part);
              if (m) {
                names.push(m[1] as string);
                return '([^/]+)';
              }
              return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
            })
            .join('') +
          '$',
      );
      return { template, re, names };
    });
    // More specific (fewer parameters) templates first: /IncomingPhoneNumbers/Local.json beats /{Sid}.json.
    this.routes.sort((a, b) => a.names.length - b.names.length);
  }

  /** Finds the spec operation for a method and path; undefined when the spec has none. */
  match(method: string, pathname: string): MatchedOperation | undefined {
    const m = method.toLowerCase();
    for (const r of this.routes) {
      const hit = r.re.exec(pathname);
      if (!hit) continue;
      const op = this.spec.paths[r.template]?.[m];
      if (!op) continue;
      const pathParams: Record<string, string> = {};
      r.names.forEach((n, i) => (pathParams[n] = decodeURIComponent(hit[i + 1] ?? '')));
      return { template: r.template, operationId: op.operationId, pathParams };
    }
    return undefined;
  }

  /** True when the spec has the path at all (under any method). */
  hasPath(pathname: string): boolean {
    return this.routes.some((r) => r.re.test(pathname));
  }

  private compile(template: string, method: string): Compiled {
    const key = `${method} ${template}`;
    const hit = this.compiled.get(key);
    if (hit) return hit;
    const op = this.spec.paths[template]?.[method] as SpecOperation;
    const params = op.parameters ?? [];
    const group = (where: string) => {
      const ps = params.filter((p) => p.in === where);
      return rewriteRefs({
        type: 'object',
        properties: Object.fromEntries(ps.map((p) => [p.name, p.schema ?? {}])),
        required: ps.filter((p) => p.required).map((p) => p.name),
        additionalProperties: false,
      }) as object;
    };
    const bodySchema = op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
    const compiled: Compiled = {
      path: this.ajv.compile(group('path')),
      query: this.ajv.compile(group('query')),
      body: bodySchema ? this.ajv.compile(rewriteRefs({ ...bodySchema, additionalProperties: false }) as object) : undefined,
    };
    this.compiled.set(key, compiled);
    return compiled;
  }

  /**
   * Validates one request. `query` and `body` are parsed form data (repeated keys as arrays); they
   * are coerced in place to the spec's types (integers, booleans, arrays). Returns error messages.
   */
  validate(op: MatchedOperation, method: string, query: Record<string, unknown>, body: Record<string, unknown>): string[] {
    const c = this.compile(op.template, method.toLowerCase());
    const errors: string[] = [];
    const params = { ...op.pathParams };
    if (!c.path(params)) errors.push(...(c.path.errors ?? []).map((e) => formatError('path', e)));
    if (!c.query(query)) errors.push(...(c.query.errors ?? []).map((e) => formatError('query', e)));
    if (c.body) {
      if (!c.body(body)) errors.push(...(c.body.errors ?? []).map((e) => formatError('body', e)));
    } else if (Object.keys(body).length > 0) {
      errors.push(`body: this operation takes no body parameters, got ${Object.keys(body).join(', ')}`);
    }
    return errors;
  }
}
