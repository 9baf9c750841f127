'use strict';
// Output and failures. WatermelonDB reports protocol problems (a record sent as created with
// sendCreatedAsUpdated, an update of an unknown record, a timestamp going backwards, a table it
// does not know...) through its logger instead of throwing: every warning or error it logs, and
// anything written to console.warn/console.error, is a failure of the scenario.

const logger = require('@nozbe/watermelondb/utils/common/logger').default;

const failures = [];

function say(msg) {
  process.stdout.write(`${msg}\n`);
}

function fail(msg) {
  failures.push(msg);
  say(`FAIL: ${msg}`);
}

function describe(args) {
  return args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
}

function install() {
  for (const level of ['warn', 'error']) {
    logger[level] = (...args) => fail(`WatermelonDB logged a${level === 'error' ? 'n' : ''} ${level}: ${describe(args)}`);
    // eslint-disable-next-line no-console
    console[level] = (...args) => fail(`console.${level}: ${describe(args)}`);
  }
  // Informational messages are shown, except LokiJS's set-up chatter.
  logger.log = (...args) => {
    const msg = describe(args);
    if (!msg.startsWith('[Loki]')) say(`WatermelonDB: ${msg}`);
  };
  logger.debug = logger.log;
  process.on('unhandledRejection', (err) => fail(`unhandled rejection: ${err && err.stack ? err.stack : err}`));
}

module.exports = { failures, fail, say, install };
