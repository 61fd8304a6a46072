/**
 * `p`, or a rejection (an Error without a status: not a refusal) once `ms` have passed without
 * it settling; `what` prefixes the message. An infinite `ms` waits for `p` itself. The request
 * behind `p` is not cancelled: the caller stops waiting for it.
 */
export function within<T>(p: Promise<T>, ms: number, what?: string): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what ? `${what}: ` : ''}no answer within ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
