// An Express app whose database pool closes cleanly on every reload, upgrade and stop.
//
//   node examples/express-pool.js      then   curl http://127.0.0.1:8080/users/7
//   kill -HUP <master pid>             the old worker finishes its requests, then closes its pool
//
// It uses Express when it is installed (`npm install express`); baton has no dependencies,
// so without it the same route is served by a few lines of node:http.
//
// Why beforeExit, not 'drain': 'drain' comes when the worker stops receiving connections,
// while its requests still run and need the pool. A beforeExit function runs once every
// connection of the worker is closed, and the worker waits for it (up to exitTimeout,
// 5 s here) before it exits. Fastify: `b.beforeExit(() => fastify.close())` runs its
// onClose hooks (the pool plugins' close) at that moment.
'use strict';
const http = require('node:http');
const baton = require('baton-cluster');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stand-in for pg.Pool or mysql2's pool: query() needs it open, end() takes 500 ms. */
class FakePool {
  constructor() {
    this.open = true;
  }
  async query(sql, params) {
    if (!this.open) throw new Error('the pool is closed');
    await sleep(10);
    return { rows: [{ id: Number(params[0]), name: `user ${params[0]}`, worker: process.pid }] };
  }
  async end() {
    this.open = false;
    await sleep(500); // waits for its connections to finish and close
  }
}

function optional(name) {
  try {
    return require(name);
  } catch {
    return undefined;
  }
}

/** The app: Express if it is installed, else the same route on node:http. */
function createApp(pool) {
  const express = optional('express');
  if (express) {
    const app = express();
    app.get('/users/:id', async (req, res, next) => {
      try {
        const { rows } = await pool.query('SELECT id, name FROM users WHERE id = $1', [req.params.id]);
        res.json(rows[0]);
      } catch (err) {
        next(err);
      }
    });
    return app;
  }
  return (req, res) => {
    const m = /^\/users\/(\d+)$/.exec(req.url);
    if (!m) {
      res.statusCode = 404;
      res.end('try /users/7\n');
      return;
    }
    pool.query('SELECT id, name FROM users WHERE id = $1', [m[1]]).then(({ rows }) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(rows[0]));
    }, (err) => {
      res.statusCode = 500;
      res.end(`${err.message}\n`);
    });
  };
}

let pool;
const b = baton.listen({
  port: Number(process.env.PORT || 8080),
  host: process.env.HOST,
  workers: Number(process.env.WORKERS) || undefined,
  exitTimeout: 5_000,
  logLevel: process.env.BATON_LOG_LEVEL || 'info',
}, {
  // runs in each worker only: the master, which just accepts connections, opens no pool
  createServer: () => {
    pool = new FakePool();
    return http.createServer(createApp(pool));
  },
});

if (b.role === 'worker') {
  b.beforeExit(async (reason) => {
    await pool.end();
    process.stdout.write(`worker ${process.pid}: pool closed (${reason})\n`);
  });
} else {
  b.once('serving', () => {
    process.stdout.write(
      `express-pool example on http://127.0.0.1:${b.sockets[0].port()}/users/7 (master pid ${process.pid}; ` +
      `${optional('express') ? 'Express' : 'node:http, Express is not installed'})\n` +
      `  reload: kill -HUP ${process.pid}   upgrade: kill -USR2 ${process.pid}   stop: kill -TERM ${process.pid}\n`,
    );
  });
}
