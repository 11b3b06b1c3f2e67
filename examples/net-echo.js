// A raw TCP server (a line echo) with baton: same hand-off, same zero-downtime upgrades.
//   node examples/net-echo.js          then   nc 127.0.0.1 7000
// baton cannot tell when a raw connection is idle, so the app closes its connections
// politely when its worker drains (here: after a goodbye line); drainTimeout is the bound.
'use strict';
const net = require('node:net');
const baton = require('baton-cluster');

const open = new Set();
const b = baton.listen({ port: Number(process.env.PORT || 7000), host: process.env.HOST, drainTimeout: 10_000, logLevel: process.env.BATON_LOG_LEVEL || 'info' }, {
  createServer: () => net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    socket.write(`echo from worker ${process.pid}, generation ${b.generation}\n`);
    socket.on('data', (d) => socket.write(d));
  }),
});

if (b.role === 'worker') {
  b.on('drain', () => {
    for (const socket of open) socket.end('server restarting, please reconnect\n');
  });
}
