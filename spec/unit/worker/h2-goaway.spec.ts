// What Node's HTTP/2 server does with streams that cross its GOAWAY on the wire, the fact
// lib/worker/h2-goaway.ts rests on. The server runs in a child process (h2c), so the client
// can hold its event loop: it sends stream 1, waits (busy) until the server has sent its
// GOAWAY, and only then writes five more streams, which reach the server after its GOAWAY
// while stream 1 is still in progress. Node refuses them (REFUSED_STREAM) after session.close(),
// and also after the first step of RFC 9113 section 6.8's graceful shutdown (a GOAWAY for
// stream 2^31-1, then the real one): nghttp2 takes no new stream once it sent any GOAWAY.
// The second test fails the day Node serves them: then build the graceful shutdown.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from '../../support/wait';

/**
 * An h2c server: 500 ms after stream 1 arrives it goes away (`mode`: 'close', session.close();
 * 'notice', a GOAWAY for stream 2^31-1 and session.close() 300 ms later), writes `marker` once
 * the GOAWAY is out, and answers stream 1 400 ms after the GOAWAY.
 */
const SERVER = `
const http2 = require('http2');
const fs = require('fs');
const [mode, marker] = process.argv.slice(1);
const server = http2.createServer();
server.on('session', (s) => s.on('close', () => process.stdout.write('session-closed\\n')));
server.on('stream', (stream, headers) => {
  if (stream.id === 1) {
    const session = stream.session;
    setTimeout(() => {
      if (mode === 'notice') {
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
        setTimeout(() => session.close(), 300);
      } else session.close();
      setTimeout(() => fs.writeFileSync(marker, 'sent'), 50); // the GOAWAY is written on the next turn
      setTimeout(() => { stream.respond({ ':status': 200 }); stream.end('1'); }, 400);
    }, 500);
    return;
  }
  stream.respond({ ':status': 200 });
  stream.end(String(stream.id));
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

interface Run { answers: string[]; errors: string[]; goaways: number[]; sessionClosed: () => boolean; crossed: boolean }

describe('h2-goaway: Node\'s HTTP/2 server and the streams that cross its GOAWAY', function () {
  this.timeout(20_000);
  let child: ChildProcess | undefined;
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-h2goaway-'));
  });
  afterEach(() => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    child = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** run1 until the five streams crossed the GOAWAY (at most 3 tries). */
  async function run(mode: 'notice' | 'close'): Promise<Run> {
    for (let i = 0; ; i++) {
      const r = await run1(mode);
      if (r.crossed || i >= 2) return r;
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }
  }

  async function run1(mode: 'notice' | 'close'): Promise<Run> {
    const marker = path.join(dir, `${mode}.sent`);
    const proc = spawn(process.execPath, ['-e', SERVER, mode, marker], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = proc;
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const port = Number((await waitFor('the server port', () => /port (\d+)/.exec(out) ?? undefined, 10_000, 10))[1]);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const r: Run = { answers: [], errors: [], goaways: [], sessionClosed: () => out.includes('session-closed'), crossed: false };
    client.on('error', (err) => r.errors.push(`session ${err.message}`));
    client.on('goaway', (_code, last) => r.goaways.push(last));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const ask = (): Promise<void> => new Promise((resolve) => {
      const s = client.request({ ':path': '/' });
      let body = '';
      s.setEncoding('utf8');
      s.on('data', (c: string) => (body += c));
      s.on('end', () => {
        r.answers.push(body);
        resolve();
      });
      s.on('error', (err) => {
        r.errors.push(err.message);
        resolve();
      });
    });
    const all = [ask()];
    // stream 1 is written on the next turn of the loop; the GOAWAY comes 500 ms after it arrives
    await new Promise((resolve) => setTimeout(resolve, 20));
    // hold this event loop until the server has sent its GOAWAY: the GOAWAY is not read yet
    // when the next five streams are written, so they cross it on the wire
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(marker) && Date.now() < deadline) {
      // busy: no I/O is read meanwhile
    }
    expect(fs.existsSync(marker), 'the server sent its GOAWAY').to.equal(true);
    // the GOAWAY was not read yet (a very slow machine could have read it meanwhile)
    r.crossed = r.goaways.length === 0 && !client.closed;
    if (!r.crossed) {
      await Promise.all(all);
      client.destroy();
      return r;
    }
    for (let i = 0; i < 5; i++) all.push(ask());
    await Promise.all(all);
    await waitFor('the server session to end', r.sessionClosed, 5_000, 10);
    client.destroy();
    return r;
  }

  it('session.close() (what a drain sends) refuses the streams already on the wire; stream 1 in progress is answered', async () => {
    const r = await run('close');
    expect(r.crossed, 'five streams crossed the GOAWAY').to.equal(true);
    expect(r.answers).to.deep.equal(['1']);
    expect(r.errors).to.have.length(5);
    for (const e of r.errors) expect(e).to.match(/REFUSED_STREAM/);
    expect(r.goaways[0]).to.equal(1);
  });

  it('a first GOAWAY for stream 2^31-1 does not help: Node ignores every stream that arrives after any GOAWAY it sent, and refuses them at the real one (if this fails, build the graceful shutdown in lib/worker/h2-goaway.ts)', async () => {
    const r = await run('notice');
    expect(r.crossed, 'five streams crossed the GOAWAY').to.equal(true);
    expect(r.goaways.slice(0, 2), 'the client saw the notice, then the real GOAWAY').to.deep.equal([2 ** 31 - 1, 1]);
    expect(r.answers).to.deep.equal(['1']);
    expect(r.errors).to.have.length(5);
    for (const e of r.errors) expect(e).to.match(/REFUSED_STREAM/);
  });
});
