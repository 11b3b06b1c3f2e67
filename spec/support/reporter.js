// mocha's spec reporter, closed by the one line CI reads: "N passed, N failed, N skipped". Just
// before it, one "FAILED: <full title>: <first line of the error>" line per failed test, which
// .ci/run gathers into its closing table (the tail of a long CI log is often all one gets to read).
'use strict';
const Mocha = require('mocha');

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on('pass', () => passed++);
    const failures = [];
    runner.on('fail', (test, err) => {
      failed++;
      const message = String((err && err.message) || err).split('\n')[0].slice(0, 300);
      failures.push(`FAILED: ${test.fullTitle()}: ${message}`);
    });
    runner.on('pending', () => skipped++);
    runner.once('end', () => {
      if (failures.length > 0) process.stdout.write(`\n${failures.join('\n')}\n`);
      process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}

module.exports = CountingReporter;
