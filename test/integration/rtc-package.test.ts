import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('[RTC-7] stagecoach/runtime: one file, the platform only', () => {
  it('RTC-7 the build writes dist/runtime.js and its types; it imports nothing but node: modules; the package exports it as stagecoach/runtime', () => {
    execFileSync(process.execPath, ['scripts/build-runtime.ts'], { stdio: 'pipe' });
    const js = fs.readFileSync('dist/runtime.js', 'utf8');
    const imports = [...js.matchAll(/^import\b[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) expect(i).toMatch(/^node:/);
    expect(js).not.toMatch(/\brequire\(/);
    const dts = fs.readFileSync('dist/runtime.d.ts', 'utf8');
    expect(dts).toContain('export declare function createRuntime(');
    expect(dts).not.toMatch(/from ['"](?!node:)/);
    // The package refers to itself by its exports (what a runtime that installed it imports).
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('stagecoach/runtime'); console.log(typeof m.createRuntime)",
      ],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('function');
  }, 60_000);
});
