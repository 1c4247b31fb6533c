// Builds `stagecoach/runtime` (RTC-7): runtime/index.ts bundled into dist/runtime.js (one file, the
// platform only) and its types into dist/runtime.d.ts, the two package.json "exports" names.
// Part of `npm run build`; `npm run build:runtime` alone.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'rolldown';

await build({
  input: { runtime: 'runtime/index.ts' },
  platform: 'node',
  external: [/^node:/],
  output: { dir: 'dist', entryFileNames: '[name].js', format: 'esm', sourcemap: true },
  logLevel: 'warn',
});

// Declarations from the source itself (a single file: nothing else to resolve but the platform's).
const out = mkdtempSync(path.join(tmpdir(), 'stagecoach-runtime-dts-'));
try {
  execFileSync(
    process.execPath,
    [
      'node_modules/typescript/bin/tsc',
      '--ignoreConfig',
      'runtime/index.ts',
      '--declaration',
      '--emitDeclarationOnly',
      '--outDir',
      out,
      '--target',
      'es2024',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--types',
      'node',
      '--strict',
      '--skipLibCheck',
    ],
    { stdio: 'inherit' },
  );
  copyFileSync(path.join(out, 'index.d.ts'), 'dist/runtime.d.ts');
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log('runtime client built into dist/runtime.js (and dist/runtime.d.ts)');
