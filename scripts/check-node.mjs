// npm scripts must run on the Node 24 from the `node` devDependency (see README).
// Plain JS on purpose: it has to give a clear message on an old Node that cannot run .ts.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `Stagecoach needs Node >= 24 but this script runs on ${process.version}.\n` +
      'Run it through npm (npm test, npm start); if it still fails, run `npm rebuild node`.',
  );
  process.exit(1);
}
console.log(`node ${process.version}`);
