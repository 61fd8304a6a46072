/** Brazilian numbering plan as the emulator's number inventory sees it (ANATEL area codes, landline/mobile/toll-free shapes). */

/** Type of a Brazilian number as AvailablePhoneNumbers groups them. */
export type BrNumberType = 'Local' | 'Mobile' | 'TollFree';

/** Valid Brazilian area codes (DDD) with their state. */
export const BR_AREA_CODES: Record<string, string> = {};
const STATES: [string, number[]][] = [
  ['SP', [11, 12, 13, 14, 15, 16, 17, 18, 19]], ['RJ', [21, 22, 24]], ['ES', [27, 28]],
  ['MG', [31, 32, 33, 34, 35, 37, 38]], ['PR', [41, 42, 43, 44, 45, 46]], ['SC', [47, 48, 49]],
  ['RS', [51, 53, 54, 55]], ['DF', [61]], ['GO', [62, 64]], ['TO', [63]], ['MT', [65, 66]], ['MS', [67]],
  ['AC', [68]], ['RO', [69]], ['BA', [71, 73, 74, 75, 77]], ['SE', [79]], ['PE', [81, 87]], ['AL', [82]],
  ['PB', [83]], ['RN', [84]], ['CE', [85, 88]], ['PI', [86, 89]], ['PA', [91, 93, 94]], ['AM', [92, 97]],
  ['RR', [95]], ['AP', [96]], ['MA', [98, 99]],
];
const CAPITALS: Record<string, string> = {
  '11': 'Sao Paulo', '21': 'Rio de Janeiro', '27': 'Vitoria', '31': 'Belo Horizonte', '41': 'Curitiba', '48': 'Florianopolis',
  '51': 'Porto Alegre', '61': 'Brasilia', '62': 'Goiania', '63': 'Palmas', '65': 'Cuiaba', '67': 'Campo Grande', '68': 'Rio Branco',
  '69': 'Porto Velho', '71': 'Salvador', '79': 'Aracaju', '81': 'Recife', '82': 'Maceio', '83': 'Joao Pessoa', '84': 'Natal',
  '85': 'Fortaleza', '86': 'Teresina', '91': 'Belem', '92': 'Manaus', '95': 'Boa Vista', '96': 'Macapa', '98': 'Sao Luis',
};
for (const [uf, codes] of STATES) for (const c of codes) BR_AREA_CODES[String(c)] = uf;

/** Classifies a +55 number: Local (DDD + 8 digits starting 2–5), Mobile (DDD + 9 digits starting 9), TollFree (+55 800 + 7 digits). */
export function classifyBr(num: string): BrNumberType | undefined {
  if (/^\+55800\d{7}$/.test(num)) return 'TollFree';
  const m = /^\+55(\d\d)(\d+)$/.exec(num);
  if (!m || !BR_AREA_CODES[m[1] as string]) return undefined;
  const rest = m[2] as string;
  if (/^9\d{8}$/.test(rest)) return 'Mobile';
  if (/^[2-5]\d{7}$/.test(rest)) return 'Local';
  return undefined;
}

/** True when a number can be dialled: any E.164, but +55 numbers must fit the Brazilian plan. */
export function isDiallable(num: string): boolean {
  if (!/^\+[1-9]\d{7,14}$/.test(num)) return false;
  return num.startsWith('+55') ? classifyBr(num) !== undefined : true;
}

/** One number the inventory offers, in AvailablePhoneNumbers JSON shape (snake_case). */
export interface AvailableNumber {
  friendly_name: string;
  phone_number: string;
  lata: null;
  locality: string | null;
  rate_center: string | null;
  latitude: null;
  longitude: null;
  region: string | null;
  postal_code: null;
  iso_country: 'BR';
  address_requirements: string;
  beta: boolean;
  capabilities: { voice: boolean; SMS: boolean; MMS: boolean; fax: boolean };
}

/** Describes one Brazilian number as AvailablePhoneNumbers would. */
export function describeBr(num: string): AvailableNumber {
  const type = classifyBr(num);
  const ddd = type === 'TollFree' ? undefined : num.slice(3, 5);
  return {
    friendly_name: num,
    phone_number: num,
    lata: null,
    locality: ddd ? (CAPITALS[ddd] ?? null) : null,
    rate_center: ddd ?? null,
    latitude: null,
    longitude: null,
    region: ddd ? (BR_AREA_CODES[ddd] ?? null) : null,
    postal_code: null,
    iso_country: 'BR',
    address_requirements: type === 'TollFree' ? 'none' : 'local',
    beta: false,
    capabilities: { voice: true, SMS: type === 'Mobile', MMS: false, fax: false },
  };
}

function containsRegex(pattern: string): RegExp {
  const letters: Record<string, string> = { abc: '2', def: '3', ghi: '4', jkl: '5', mno: '6', pqrs: '7', tuv: '8', wxyz: '9' };
  const body = pattern
    .replace(/^\+/, '')
    .split('')
    .map((ch) => {
      if (ch === '*') return '\\d';
      const group = Object.keys(letters).find((g) => g.includes(ch.toLowerCase()));
      return group ? letters[group] : /\d/.test(ch) ? ch : '';
    })
    .join('');
  return new RegExp(body);
}

/** Deterministic candidate numbers for a type and area code, skipping the ones `taken` (already sold). */
export function searchBr(opts: {
  type: BrNumberType;
  areaCode?: number | string;
  contains?: string;
  smsEnabled?: boolean;
  voiceEnabled?: boolean;
  limit: number;
  taken: (num: string) => boolean;
}): AvailableNumber[] {
  const { type, limit } = opts;
  if (opts.voiceEnabled === false) return [];
  if (opts.smsEnabled === true && type !== 'Mobile') return [];
  const codes =
    type === 'TollFree' ? ['800'] : opts.areaCode !== undefined ? [String(opts.areaCode)] : ['11', '21', '31', '41', '51', '61', '71', '81'];
  if (type !== 'TollFree' && codes.some((c) => !BR_AREA_CODES[c])) return [];
  if (type === 'TollFree' && opts.areaCode !== undefined && String(opts.areaCode) !== '800') return [];
  const re = opts.contains ? containsRegex(opts.contains) : undefined;
  const out: AvailableNumber[] = [];
  let seed = 0x2545f491 ^ (type.length * 7919);
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 20000 && out.length < limit; i++) {
    const code = codes[i % codes.length] as string;
    const r = next();
    let num: string;
    if (type === 'TollFree') num = `+55800${String(r % 10_000_000).padStart(7, '0')}`;
    else if (type === 'Mobile') num = `+55${code}9${String(r % 100_000_000).padStart(8, '0')}`;
    else num = `+55${code}${2 + (r % 4)}${String(Math.floor(r / 4) % 10_000_000).padStart(7, '0')}`;
    if (opts.taken(num) || out.some((n) => n.phone_number === num)) continue;
    if (re && !re.test(num.slice(1))) continue;
    out.push(describeBr(num));
  }
  return out;
}
