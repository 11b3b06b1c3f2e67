// A request's start and its response's finish on an http or https server, from Node's
// diagnostics channels ('http.server.request.start', 'http.server.response.finish'), instead
// of a 'request' listener per server and a 'close' listener per response.
//
// Why (a 'request' listener in front of the app's is copied by emit() per request; a 'close'
// listener per response costs too): docs/benchmarks.md. Node's HTTP server publishes on the
// channels whoever listens; baton subscribes once per process and finds its watchers on the
// server the message names.
//
// What a channel gives:
// - start: published as the request's headers are parsed, before the server emits 'request'
//   (or 'checkContinue'): a watcher may still set a response header. Not for an Upgrade or a
//   CONNECT the app takes over (no response).
// - finish: the response's last byte was handed to the kernel (the response's 'finish'). A
//   response that never finishes (its client went away, the app destroyed it) has none: its
//   socket closes instead, and a watcher counts what is left unfinished on a socket then.
// Both carry the server, the request, the response and the socket (the TLSSocket for https).
// HTTP/2 servers publish on other channels: a watcher gets `false` from watchHttp() and follows
// their 'request' events itself.
import * as dc from 'node:diagnostics_channel';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** `t`: performance.now() when the channel published (one clock read for every watcher). */
export interface HttpWatcher {
  /** A request's headers arrived; its response has not started. */
  started(req: http.IncomingMessage, res: http.ServerResponse, socket: Socket, t: number): void;
  /** That response's last byte was written. */
  finished(res: http.ServerResponse, socket: Socket, t: number): void;
}

interface Message {
  server: unknown;
  request: http.IncomingMessage;
  response: http.ServerResponse;
  socket: Socket;
}

const WATCHERS = Symbol('baton.httpWatchers');
type Watched = http.Server & { [WATCHERS]?: HttpWatcher[] };

let subscribed = false;

function onStart(m: unknown): void {
  const { server, request, response, socket } = m as Message;
  const ws = (server as Watched)[WATCHERS];
  if (ws === undefined) return;
  const t = performance.now();
  for (let i = 0; i < ws.length; i++) ws[i].started(request, response, socket, t);
}

function onFinish(m: unknown): void {
  const { server, response, socket } = m as Message;
  const ws = (server as Watched)[WATCHERS];
  if (ws === undefined) return;
  const t = performance.now();
  for (let i = 0; i < ws.length; i++) ws[i].finished(response, socket, t);
}

/**
 * `w` is told of every request `server` starts and every response it finishes, from now on.
 * False when `server` is not an http or https server (an http2 or raw net server): nothing is
 * watched then. Watching twice with the same watcher watches once.
 */
export function watchHttp(server: object, w: HttpWatcher): boolean {
  if (!(server instanceof http.Server) && !(server instanceof https.Server)) return false;
  if (!subscribed) {
    dc.subscribe('http.server.request.start', onStart);
    dc.subscribe('http.server.response.finish', onFinish);
    subscribed = true;
  }
  const s = server as Watched;
  const ws = s[WATCHERS] ?? (s[WATCHERS] = []);
  if (!ws.includes(w)) ws.push(w);
  return true;
}
