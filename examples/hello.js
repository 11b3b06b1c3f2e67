// The smallest baton app: `npm start` (or `node examples/hello.js`), then try
//   curl http://127.0.0.1:8080/        kill -USR2 <master pid>        kill -HUP <master pid>
// Edit this file between upgrades to see the new code take over with nothing dropped.
'use strict';
const baton = require('baton-cluster');

const port = Number(process.env.PORT || 8080);
const started = new Date().toISOString();

const b = baton.listen({ port, host: process.env.HOST, logLevel: process.env.BATON_LOG_LEVEL || 'info' }, (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from worker ${process.pid}, generation ${b.generation}, code loaded at ${started}\n`);
});

if (b.role === 'master') {
  b.once('serving', () => {
    const url = `http://127.0.0.1:${b.sockets[0].port()}/`;
    process.stdout.write(
      `baton example serving on ${url} (master pid ${process.pid})\n` +
      `  upgrade (new code, baton or node):  kill -USR2 ${process.pid}\n` +
      `  reload the workers:                 kill -HUP ${process.pid}\n` +
      `  stop gracefully:                    kill -TERM ${process.pid}   (or Ctrl-C)\n`,
    );
  });
  b.on('upgrade-succeeded', ({ pid }) => process.stdout.write(`upgraded: new master pid ${pid}\n`));
}
