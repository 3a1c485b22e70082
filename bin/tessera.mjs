#!/usr/bin/env node
// Launcher for the bundled CLI; it needs the Node 22 that `npm install` puts in node_modules/.bin.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`tessera: needs Node 22.19 or newer (this is ${process.version}); run it through npx or npm so the project's Node is used\n`);
  process.exit(1);
}
try {
  await import('../dist/cli/tessera.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli')) {
    process.stderr.write('tessera: not built yet; run: npm run build\n');
    process.exit(1);
  }
  throw err;
}
