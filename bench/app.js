// The benchmark's app. `npm run bench` copies this file into a temporary directory with a
// version.json beside it, and runs it three ways, chosen by BENCH_MODE:
//   baton    under baton (BATON_DIST names dist/index.js): upgrades and reloads rewrite
//            version.json, and the code loaded afterwards serves the new version
//   cluster  bare node:cluster, the same handler in BENCH_WORKERS workers, nothing else; its
//            scheduling policy is Node's, from NODE_CLUSTER_SCHED_POLICY (the bench sets rr for
//            `cluster`, none for `cluster-none`: each worker accepts for itself), and said in
//            its serving line
//   single   one process, node:http
// The handler is the same everywhere: optional simulated work (BENCH_DELAY ms, a timer,
// not CPU), then a tiny text body; the headers name the code version, the generation and
// the pid of the process that answered (x-bench-pid: the bench counts the share of each
// worker). The master (or the single process) prints one JSON line per event on
// stdout: {"ev", "t" (epoch ms, sub-ms precision), "master" (its pid), ...}.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const cluster = require('cluster');
const { performance } = require('perf_hooks');

const now = () => performance.timeOrigin + performance.now();
const version = String(JSON.parse(fs.readFileSync(path.join(__dirname, 'version.json'), 'utf8')).version);
const mode = process.env.BENCH_MODE || 'baton';
const delay = Number(process.env.BENCH_DELAY || 0);
const workers = Number(process.env.BENCH_WORKERS || os.availableParallelism());
const say = (ev, info) => process.stdout.write(JSON.stringify({ ev, t: now(), master: process.pid, ...info }) + '\n');

let generation = () => 1;

function handler(req, res) {
  const reply = () => {
    res.setHeader('content-type', 'text/plain');
    res.setHeader('x-bench-version', version);
    res.setHeader('x-bench-generation', String(generation()));
    res.setHeader('x-bench-pid', String(process.pid));
    res.end('ok\n');
  };
  if (delay > 0) setTimeout(reply, delay);
  else reply();
}

// A self-check of the soak's goals (docs/benchmarks.md): BENCH_LEAK_FDS=N and BENCH_LEAK_KIB=K
// make a baton master leak on purpose, N fds (/dev/null) and K KiB (written to) per generation
// up to its own, as if each upgrade and reload left them behind in the master that serves next;
// BENCH_LEAK_PROCS=1 leaves a detached process behind at each (it exits by itself after 60 s).
const leakFds = Number(process.env.BENCH_LEAK_FDS || 0);
const leakKiB = Number(process.env.BENCH_LEAK_KIB || 0);
const leakProcs = process.env.BENCH_LEAK_PROCS === '1';
const leaked = [];
let leakedUpTo = 0;
function leakUpTo(gen) {
  for (; leakedUpTo < gen; leakedUpTo++) {
    for (let i = 0; i < leakFds; i++) leaked.push(fs.openSync('/dev/null', 'r'));
    if (leakKiB > 0) leaked.push(Buffer.alloc(leakKiB * 1024, 1));
  }
  if (leakProcs) {
    require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { detached: true, stdio: 'ignore' }).unref();
  }
}

if (mode === 'baton') {
  const baton = require(process.env.BATON_DIST);
  const b = baton.listen({ port: 0, host: '127.0.0.1', workers, logLevel: process.env.BENCH_LOG_LEVEL || 'warn' }, handler);
  generation = () => b.generation;
  if (cluster.isPrimary) {
    say('loaded', { version });
    if (leakFds > 0 || leakKiB > 0 || leakProcs) {
      for (const ev of ['serving', 'reload-succeeded']) b.on(ev, () => leakUpTo(b.generation));
    }
    for (const ev of ['listening', 'serving', 'worker-ready', 'worker-exit', 'upgrade-started', 'upgrade-succeeded',
      'upgrade-failed', 'reload-started', 'reload-succeeded', 'reload-failed', 'generation-draining',
      'generation-drained', 'stopping']) {
      b.on(ev, (info) => say(ev, info));
    }
    process.on('exit', (code) => say('exit', { code }));
  }
} else if (mode === 'cluster') {
  if (cluster.isPrimary) {
    say('loaded', { version });
    let listening = 0;
    cluster.on('listening', (w, address) => {
      say('worker-ready', { pid: w.process.pid, generation: 1 });
      const policy = cluster.schedulingPolicy === cluster.SCHED_NONE ? 'none' : 'rr';
      if (++listening === workers) say('serving', { generation: 1, port: address.port, policy });
    });
    cluster.on('exit', (w, code, signal) => say('worker-exit', { pid: w.process.pid, code, signal }));
    for (let i = 0; i < workers; i++) cluster.fork();
  } else {
    http.createServer(handler).listen(0, '127.0.0.1');
  }
} else if (mode === 'single') {
  say('loaded', { version });
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1', () => say('serving', { generation: 1, port: server.address().port }));
} else {
  throw new Error(`BENCH_MODE must be baton, cluster or single, got ${mode}`);
}
