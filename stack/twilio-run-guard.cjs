/*
 * Preloaded (`node --require`) into the twilio-run process, so that the signature-checking
 * front (stack/functions.ts) is the only way in to the functions:
 *  - twilio-run calls `app.listen(port)`, which binds every interface: a listen on a bare
 *    port binds 127.0.0.1 instead;
 *  - every HTTP request must carry the header FRONT_SECRET_HEADER with the secret the front
 *    chose at this start (given in the environment variable of the same purpose, removed from
 *    the environment before any function loads). Any other request, from any process of the
 *    machine, gets 403 with no body and never reaches a function. The header is removed
 *    before twilio-run sees the request, so functions never see the secret.
 *  - `GET /__discador_ready` from the front is answered here with this process's pid, so the
 *    front knows the port it probes is served by the twilio-run it started and not by another
 *    service that took the port first.
 * With no secret in the environment every request is refused.
 */
'use strict';
const net = require('node:net');
const http = require('node:http');
const { timingSafeEqual } = require('node:crypto');

const FRONT_SECRET_HEADER = 'x-discador-front';
const FRONT_SECRET_ENV = 'DISCADOR_FRONT_SECRET';
const READY_PATH = '/__discador_ready';

const secret = Buffer.from(process.env[FRONT_SECRET_ENV] || '');
delete process.env[FRONT_SECRET_ENV];

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function loopbackListen(...args) {
  const first = args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
    else args[1] = '127.0.0.1';
  } else if (first && typeof first === 'object' && !Array.isArray(first) && first.path === undefined && !('_handle' in first) && !('fd' in first)) {
    args[0] = { ...first, host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};

/** True when the request carries the front's secret (compared in constant time). */
function fromFront(req) {
  const given = req.headers[FRONT_SECRET_HEADER];
  if (secret.length === 0 || typeof given !== 'string') return false;
  const g = Buffer.from(given);
  return g.length === secret.length && timingSafeEqual(g, secret);
}

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function frontOnly(event, req, res, ...rest) {
  if (event !== 'request') return emit.call(this, event, req, res, ...rest);
  if (!fromFront(req)) {
    req.resume();
    res.writeHead(403, { 'content-length': '0', connection: 'close' }).end();
    return true;
  }
  if (req.url === READY_PATH) {
    req.resume();
    const body = String(process.pid);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
    return true;
  }
  delete req.headers[FRONT_SECRET_HEADER];
  const raw = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() !== FRONT_SECRET_HEADER) raw.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  req.rawHeaders.length = 0;
  req.rawHeaders.push(...raw);
  return emit.call(this, event, req, res, ...rest);
};

module.exports = { FRONT_SECRET_HEADER, FRONT_SECRET_ENV, READY_PATH };
