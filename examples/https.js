// HTTPS with baton, plus a plain-HTTP listener that redirects to it.
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
//     -subj /CN=localhost -days 30 -keyout key.pem -out cert.pem
//   TLS_KEY=key.pem TLS_CERT=cert.pem node examples/https.js
//   curl -k https://127.0.0.1:8443/
// The certificate is read by the factory, which runs in every new worker: replace the files,
// then `kill -HUP <master>` (or -USR2) and new connections get the new certificate.
'use strict';
const fs = require('node:fs');
const https = require('node:https');
const baton = require('baton-cluster');

const tls = () => ({ key: fs.readFileSync(process.env.TLS_KEY || 'key.pem'), cert: fs.readFileSync(process.env.TLS_CERT || 'cert.pem') });
const port = Number(process.env.PORT || 8443);

const b = baton.listen({
  listeners: [
    { name: 'https', port, host: process.env.HOST, createServer: () => https.createServer(tls(), app) },
    {
      name: 'http', port: Number(process.env.HTTP_PORT || 8080), host: process.env.HOST,
      handler: (req, res) => {
        res.writeHead(308, { location: `https://${(req.headers.host || 'localhost').replace(/:\d+$/, '')}:${port}${req.url}` });
        res.end();
      },
    },
  ],
  logLevel: process.env.BATON_LOG_LEVEL || 'info',
});

function app(req, res) {
  res.setHeader('content-type', 'text/plain');
  res.end(`hello over ${baton.listenerOf(req)} from worker ${process.pid}, generation ${b.generation}\n`);
}
