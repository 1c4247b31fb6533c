import { usage } from './errors.ts';

/**
 * A small argument parser (CLI-2): positionals, `--flag`, `--name value`, `--name=value`, and flags
 * whose value is optional (`--wait` or `--wait=10m`: only with `=`, so `--wait production` never
 * swallows a positional). Unknown flags are usage errors, never ignored.
 */
export interface FlagSpec {
  /** `boolean`: no value; `value`: needs one; `optional`: a value only after `=`. */
  kind: 'boolean' | 'value' | 'optional';
  short?: string;
}

export interface Parsed {
  positionals: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[], specs: Record<string, FlagSpec>): Parsed {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  const byShort = new Map(
    Object.entries(specs)
      .filter(([, s]) => s.short)
      .map(([name, s]) => [s.short!, name]),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      value = eq === -1 ? undefined : arg.slice(eq + 1);
    } else if (/^-[a-zA-Z]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (!name) throw usage(`Unknown option ${arg}.`);
    } else {
      positionals.push(arg);
      continue;
    }
    const spec = specs[name];
    if (!spec || !Object.hasOwn(specs, name)) throw usage(`Unknown option --${name}.`);
    if (spec.kind === 'boolean') {
      if (value !== undefined) throw usage(`--${name} takes no value.`);
      flags.set(name, true);
    } else if (spec.kind === 'optional') {
      flags.set(name, value ?? true);
    } else {
      if (value === undefined) {
        const next = argv[i + 1];
        if (next === undefined) throw usage(`--${name} needs a value.`);
        value = next;
        i++;
      }
      flags.set(name, value);
    }
  }
  return { positionals, flags };
}

/** A duration: `90` or `90s`, `10m`, `2h`, `500ms`; in milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw usage(`--${flag}: "${text}" is not a duration (e.g. 90s, 10m, 1h).`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}
