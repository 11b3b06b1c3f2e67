// The listeners of listen(): the `listeners` option checked entry by entry (names unique,
// addresses unique, each a TCP address or a UNIX socket, each with its own app or the main
// one); and the app itself.
import type { RequestListener } from 'node:http';
import { handlerMistake } from './handler';
import { addressOption, BatonOptionError, onlyFields, plainObject, show } from './rules';
import type { App, ListenerConfig, ListenerSpec, ServerFactory } from './types';

const LISTENER_KEYS = ['name', 'port', 'host', 'path', 'mode', 'handler', 'createServer'];

const NAME_MAX = 255; // systemd's limit for FileDescriptorName=

/** Checks the `listeners` option; returns the listeners with resolved paths. Throws BatonOptionError. */
export function checkListeners(input: unknown): ListenerConfig[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new BatonOptionError('listeners', `must be a non-empty array such as [{ name: 'web', port: 8080 }], got ${Array.isArray(input) ? 'an empty array' : show(input)}.`);
  }
  const out: ListenerConfig[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  input.forEach((e: unknown, i: number) => {
    const at = `listeners[${i}]`;
    if (!plainObject(e)) {
      throw new BatonOptionError(at, `must be an object such as { name: 'web', port: 8080 } or { name: 'admin', path: '/run/app.sock' }, got ${show(e)}.`);
    }
    onlyFields(at, e, LISTENER_KEYS, 'a listener field');
    const name = e.name;
    if (typeof name !== 'string' || name === '' || name.length > NAME_MAX || /[:\s\x00-\x1f]/.test(name)) {
      throw new BatonOptionError(`${at}.name`, `must be a non-empty string of at most ${NAME_MAX} characters without ":", spaces or control characters, got ${show(name)}.`);
    }
    const dup = names.get(name);
    if (dup !== undefined) throw new BatonOptionError(`${at}.name`, `${show(name)} is already the name of listeners[${dup}]; names must be unique.`);
    names.set(name, i);
    if (e.mode !== undefined && e.path === undefined) throw new BatonOptionError(`${at}.mode`, 'applies to a UNIX socket only: give a "path" or remove "mode".');
    const spec: ListenerSpec = { name, ...addressOption(at, e, 'give a TCP "port" (0 picks a free one) or a UNIX socket "path".') };
    if (e.mode !== undefined) {
      if (typeof e.mode !== 'number' || !Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o777) {
        throw new BatonOptionError(`${at}.mode`, `must be an integer from 0 to 0o777 (permission bits such as 0o660), got ${show(e.mode)}.`);
      }
      spec.mode = e.mode;
    }
    if (spec.port !== 0) {
      const where = spec.path ?? `${spec.host ?? '*'} ${spec.port}`;
      const other = addresses.get(where);
      if (other !== undefined) {
        throw new BatonOptionError(`${at}.${spec.path !== undefined ? 'path' : 'port'}`, `is the same address as listeners[${other}]; each listener needs its own.`);
      }
      addresses.set(where, i);
    }
    if (e.handler !== undefined && e.createServer !== undefined) {
      throw new BatonOptionError(`${at}.handler`, 'cannot be combined with "createServer": give one or the other.');
    }
    let app: App | undefined;
    if (e.handler !== undefined) {
      if (typeof e.handler !== 'function') throw new BatonOptionError(`${at}.handler`, `must be a request listener (req, res) => {...}, ${handlerMistake(e.handler) ?? `got ${show(e.handler)}.`}`);
      app = { kind: 'handler', handler: e.handler as RequestListener };
    } else if (e.createServer !== undefined) {
      if (typeof e.createServer !== 'function') throw new BatonOptionError(`${at}.createServer`, `must be a function returning a server, got ${show(e.createServer)}.`);
      app = { kind: 'factory', factory: e.createServer as ServerFactory };
    }
    out.push({ spec, app });
  });
  return out;
}

/**
 * The second argument of listen() with the listeners it serves: it may be left out when every
 * listener has its own handler or createServer.
 */
export function resolveMainApp(handler: unknown, listeners: ListenerConfig[]): App | undefined {
  if (handler === undefined && listeners.length > 0 && listeners.every((l) => l.app !== undefined)) return undefined;
  return resolveApp(handler);
}

/** Checks the second argument of listen(): a request listener or { createServer }. */
export function resolveApp(handler: unknown): App {
  if (typeof handler === 'function') return { kind: 'handler', handler: handler as RequestListener };
  if (plainObject(handler) && typeof handler.createServer === 'function' && Object.keys(handler).length === 1) {
    return { kind: 'factory', factory: handler.createServer as ServerFactory };
  }
  throw new BatonOptionError(
    'handler',
    `(the second argument of listen) must be a request listener (req, res) => {...} or { createServer: () => server }, ${handlerMistake(handler) ?? `got ${show(handler)}.`}`,
  );
}
