import { describe, expect, it } from 'vitest';
import {
  AA,
  contrastRatio,
  DARK_INK,
  LIGHT_INK,
  readableOn,
  STAGE_PALETTE,
  textOn,
  tint,
} from '#schema/colors.ts';
import { PRESETS } from '#schema/presets.ts';

/** The light backgrounds environment-colored text sits on: cards, the chosen preset. */
const LIGHT = ['#ffffff', '#eff6ff'];

/** Every pairing the web renders for one environment color (see schema/colors.ts users). */
const renderedPairs = (color: string): [string, string, string][] => [
  // banner, column number, "Open" button: ink on the color
  ['ink on color', textOn(color), color],
  // board column title, members headers and gates, "Next Sync →": the color as text on a card
  ...LIGHT.map((bg): [string, string, string] => ['text on ' + bg, readableOn(color, bg), bg]),
  // project list chips: text on the color's tint
  ['chip', readableOn(color, tint(color)), tint(color)],
];

const presetColors = [
  ...new Set(Object.values(PRESETS).flatMap((p) => p.stages.map((s) => s.color))),
];

/** A grid over hex space: every channel at 0, 17, …, 255 (16³ = 4,096 colors). */
const grid: string[] = [];
for (let r = 0; r < 256; r += 17)
  for (let g = 0; g < 256; g += 17)
    for (let b = 0; b < 256; b += 17)
      grid.push('#' + [r, g, b].map((c) => c.toString(16).padStart(2, '0')).join(''));

describe('[REV-2] text on every environment color meets WCAG AA', () => {
  it('[REV-2] contrastRatio follows WCAG 2.x (black on white is 21:1, a color on itself 1:1)', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#ffffff', '#000000')).toBeCloseTo(21, 5);
    expect(contrastRatio('#2563eb', '#2563eb')).toBe(1);
    // Reference value (WebAIM checker): #767676 on white is 4.54:1.
    expect(contrastRatio('#767676', '#ffffff')).toBeCloseTo(4.54, 2);
  });

  it.each(presetColors)('[REV-2] preset color %s: every rendered text reaches 4.5:1', (color) => {
    for (const [where, fg, bg] of renderedPairs(color))
      expect(contrastRatio(fg, bg), `${where}: ${fg} on ${bg}`).toBeGreaterThanOrEqual(AA);
  });

  it.each([...STAGE_PALETTE])(
    '[REV-2] custom-stage palette color %s: every rendered text reaches 4.5:1',
    (color) => {
      for (const [where, fg, bg] of renderedPairs(color))
        expect(contrastRatio(fg, bg), `${where}: ${fg} on ${bg}`).toBeGreaterThanOrEqual(AA);
    },
  );

  it('[REV-2] any color a person can pick (a 4,096-color grid over #rrggbb): every rendered text reaches 4.5:1', () => {
    const failures = grid.flatMap((color) =>
      renderedPairs(color)
        .filter(([, fg, bg]) => contrastRatio(fg, bg) < AA)
        .map(([where, fg, bg]) => `${color} ${where}: ${fg} on ${bg}`),
    );
    expect(failures).toEqual([]);
  });

  it('[REV-2] white stays where it is readable; a stage name keeps its own color when it already reads', () => {
    expect(textOn('#2563eb')).toBe(LIGHT_INK);
    expect(textOn('#d97706')).toBe(DARK_INK); // amber: white would be 3.2:1
    expect(readableOn('#2563eb')).toBe('#2563eb');
    expect(readableOn('#d97706')).not.toBe('#d97706');
  });
});
