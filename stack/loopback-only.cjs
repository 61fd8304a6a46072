/*
 * Preloaded (`node --require`) into the twilio-run process: twilio-run calls
 * `app.listen(port)`, which binds every interface. This makes a listen on a bare port bind
 * 127.0.0.1 instead, so the functions are reachable only through the signature-checking
 * front (stack/functions.ts), which is the only client of that port.
 */
'use strict';
const net = require('node:net');

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
