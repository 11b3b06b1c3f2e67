#!/usr/bin/env node
// The package.json that goes into the tarball (`npm pack`, `npm publish`) carries no install-time
// script. This repository's package.json has `prepare: npm run build`, so that `npm install` and
// `npm ci` in a clone build dist/; in a published package it would do nothing (dist/ is in the
// tarball) but npm 11 would still list it at install (`install-scripts baton-cluster@... (prepare:
// npm run build)`) and ask the user to approve it.
//
//   node scripts/pack-manifest.js prepack    empties dist/, builds it, saves package.json as
//                                            package.json.prepack and writes package.json
//                                            without the install-time scripts
//   node scripts/pack-manifest.js postpack   puts package.json.prepack back (not during
//                                            `npm publish`, which reads package.json again after
//                                            packing to send it to the registry: its postpublish
//                                            puts it back)
//
// npm runs prepack before it reads package.json to pack it (so its own `prepare` step finds none
// to run: prepack has built dist/), and postpack once the tarball is written.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const manifest = path.join(root, 'package.json');
const saved = path.join(root, 'package.json.prepack');
/** The scripts npm runs when a package is installed (prepare: when installed from git or a directory). */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

function prepack() {
  if (fs.existsSync(saved)) {
    throw new Error(`${saved} exists: an earlier pack or publish did not finish, and it holds the package.json from before it. ` +
      'Put it back with `node scripts/pack-manifest.js postpack` (or remove it if package.json is right), then pack again.');
  }
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  const text = fs.readFileSync(manifest, 'utf8');
  const pkg = JSON.parse(text);
  for (const s of INSTALL_SCRIPTS) if (pkg.scripts) delete pkg.scripts[s];
  fs.writeFileSync(saved, text);
  fs.writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
}

function postpack() {
  if (process.env.npm_command === 'publish' && process.env.npm_lifecycle_event === 'postpack') return;
  if (!fs.existsSync(saved)) return;
  fs.writeFileSync(manifest, fs.readFileSync(saved));
  fs.rmSync(saved);
}

const step = process.argv[2];
if (step === 'prepack') prepack();
else if (step === 'postpack') postpack();
else {
  process.stderr.write(`usage: node scripts/pack-manifest.js prepack|postpack (got ${JSON.stringify(step)})\n`);
  process.exit(2);
}
