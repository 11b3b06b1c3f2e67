// HTTP/2 (with HTTP/1.1 fallback) with baton. Certificates as in examples/https.js.
//   TLS_KEY=key.pem TLS_CERT=cert.pem node examples/http2.js
//   curl -k --http2 https://127.0.0.1:8443/
// When a generation drains, each of its HTTP/2 sessions gets a GOAWAY: streams in progress
// finish, and clients open their next streams on a new connection, served by the new code.
'use strict';
const fs = require('node:fs');
const http2 = require('node:http2');
const baton = require('baton-cluster');

const b = baton.listen({ port: Number(process.env.PORT || 8443), host: process.env.HOST, logLevel: process.env.BATON_LOG_LEVEL || 'info' }, {
  createServer: () => http2.createSecureServer({
    key: fs.readFileSync(process.env.TLS_KEY || 'key.pem'),
    cert: fs.readFileSync(process.env.TLS_CERT || 'cert.pem'),
    allowHTTP1: true,
  }, (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello over HTTP/${req.httpVersion} from worker ${process.pid}, generation ${b.generation}\n`);
  }),
});
