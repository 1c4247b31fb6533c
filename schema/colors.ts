/**
 * Environment colors carry text: banners and column markers use the color as a background,
 * chips and table headers use it as the text color. Any #rrggbb can be picked (schema/api.ts
 * StageBody), so the text color is computed, never assumed: WCAG 2.x AA (4.5:1) everywhere.
 */

/** WCAG AA for normal text. */
export const AA = 4.5;
/** What the picker aims for: a hair above AA, so a browser rounding a channel cannot drop below it. */
const TARGET = AA + 0.05;

/** The colors a new custom stage gets, in order (the color input can pick any other). */
export const STAGE_PALETTE = [
  '#2563eb',
  '#7c3aed',
  '#d97706',
  '#0d9488',
  '#db2777',
  '#65a30d',
  '#0891b2',
  '#dc2626',
] as const;

/** The two inks text on an environment color can take. Black, not a near-black: only pure black
 * guarantees AA against every background that white fails on. */
export const LIGHT_INK = '#ffffff';
export const DARK_INK = '#000000';

type Rgb = [number, number, number];

const parse = (hex: string): Rgb => {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return [0x64, 0x74, 0x8b]; // an unreadable value renders as slate, as the app's fallback
  const n = parseInt(m[1]!, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
};

const hex = ([r, g, b]: Rgb): string =>
  '#' + [r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('');

/** WCAG 2.x relative luminance of an sRGB color. */
export const luminance = (color: string): number => {
  const [r, g, b] = parse(color).map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

/** WCAG 2.x contrast ratio, 1 to 21, symmetric. */
export const contrastRatio = (a: string, b: string): number => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
};

/** `color-mix(in srgb, color share, other)`: share of color, the rest other. */
export const mix = (color: string, share: number, other = '#ffffff'): string => {
  const a = parse(color);
  const b = parse(other);
  return hex(a.map((c, i) => c * share + b[i]! * (1 - share)) as Rgb);
};

/** The text color on a background of this color: white where white reaches AA, else black. */
export const textOn = (background: string): string =>
  contrastRatio(LIGHT_INK, background) >= TARGET ? LIGHT_INK : DARK_INK;

/**
 * The color itself as text on a (light) background if that reaches AA, else the color darkened
 * just enough (mixed with black in 5% steps) — a stage name keeps its hue and stays readable.
 */
export const readableOn = (color: string, background = '#ffffff'): string => {
  const c = hex(parse(color));
  for (let black = 0; black <= 1; black += 0.05) {
    const ink = black === 0 ? c : mix(DARK_INK, black, c);
    if (contrastRatio(ink, background) >= TARGET) return ink;
  }
  return DARK_INK;
};

/** The light tint chips use as their background: 12% of the color on white. */
export const tint = (color: string): string => mix(color, 0.12);
