'use strict';
// Usage: MPORTAL_WMDB_CONFIG='{"url":…,"users":{…},…}' node run.js <scenario>
//        node run.js --list   (prints the scenarios' names, one a line)
// Runs one scenario of scenarios.js against the server at url and exits 0 only when it passed
// and WatermelonDB logged no warning or error. cmd/mportal/e2e_watermelon_test.go writes the
// configuration (see there) and runs every scenario against a server of its own.

const report = require('./report');

report.install();
const { scenarios } = require('./scenarios');

async function main() {
  const name = process.argv[2];
  if (name === '--list') {
    report.say(Object.keys(scenarios).join('\n'));
    return 0;
  }
  const scenario = scenarios[name];
  if (!scenario) {
    report.say(`unknown scenario ${JSON.stringify(name)}; known: ${Object.keys(scenarios).join(', ')}`);
    return 2;
  }
  if (!process.env.MPORTAL_WMDB_CONFIG) {
    report.say('MPORTAL_WMDB_CONFIG is not set (run this through cmd/mportal/e2e_watermelon_test.go)');
    return 2;
  }
  const cfg = JSON.parse(process.env.MPORTAL_WMDB_CONFIG);
  try {
    await scenario(cfg);
  } catch (err) {
    report.fail(err && err.stack ? err.stack : String(err));
  }
  // Let anything WatermelonDB logs after the last await (scheduled work) land first.
  await new Promise((resolve) => setImmediate(resolve));
  if (report.failures.length > 0) {
    report.say(`scenario ${name}: ${report.failures.length} failure(s)`);
    return 1;
  }
  report.say(`scenario ${name}: ok`);
  return 0;
}

main().then((code) => process.exit(code));
