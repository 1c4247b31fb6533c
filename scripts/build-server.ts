// Bundles the server into dist/server.js for `npm start` and the browser tests (part of `npm run build`).
// Why: Node 24 resolving drizzle-orm's hundreds of ES modules leaves ~130 MB of freed-but-kept
// heap in RSS (measured: importing drizzle-orm/sqlite-core alone +198 MB RSS, 1.5 MB live after GC).
// One bundled file loads without that, and without type stripping at start-up.
import { bundleCli, bundleServer } from './bundles.ts';

await bundleServer('dist');
console.log('server bundled into dist/server.js (and dist/checkpoint-worker.js)');
await bundleCli('dist');
console.log('CLI bundled into dist/cli.js');
