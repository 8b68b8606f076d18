// Drive the real @actions/cache package against a cache service (the loopback stand-in in tests).
//
//   node toolkit.js save    <path> <key>
//   node toolkit.js restore <path> <key> [restoreKey...]
//   node toolkit.js version <path> [<path>...]
//
// The package is loaded from $ACTIONS_CACHE_MODULES (a node_modules directory). It speaks the
// v2 Twirp protocol when ACTIONS_CACHE_SERVICE_V2 is set and GITHUB_SERVER_URL is github.com;
// paths resolve from the cwd and archive members are named relative to GITHUB_WORKSPACE.
// The outcome is printed as one line `RESULT <json>` (the toolkit logs on stdout too).
'use strict';

const path = require('path');

const modules = process.env.ACTIONS_CACHE_MODULES;
if (!modules) {
  console.error('ACTIONS_CACHE_MODULES is not set');
  process.exit(2);
}
const cache = require(path.join(modules, '@actions/cache'));

function report(result) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

async function main(argv) {
  const [op, ...rest] = argv;
  if (op === 'save') {
    const [p, key] = rest;
    const cacheId = await cache.saveCache([p], key);
    report({op, cacheId});
  } else if (op === 'restore') {
    const [p, key, ...restoreKeys] = rest;
    const matchedKey = await cache.restoreCache([p], key, restoreKeys);
    report({op, matchedKey: matchedKey === undefined ? null : matchedKey});
  } else if (op === 'version') {
    const utils = require(path.join(modules, '@actions/cache/lib/internal/cacheUtils'));
    const method = await utils.getCompressionMethod();
    report({op, method, version: utils.getCacheVersion(rest, method)});
  } else {
    console.error(`unknown operation ${op}`);
    process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`toolkit.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
