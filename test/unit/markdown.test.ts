import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '#web/lib/markdown.ts';

describe('renderMarkdown', () => {
  it('[REV-4] renders Markdown and shows raw HTML as text', () => {
    const html = renderMarkdown(
      '# Refunds\n\n- **14 days**\n\n<script>alert(1)</script><img src=x onerror=alert(1)>',
    );
    expect(html).toContain('<h1>Refunds</h1>');
    expect(html).toContain('<strong>14 days</strong>');
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&lt;script&gt;');
  });

  it('[REV-4] keeps only safe links and opens them without an opener', () => {
    const html = renderMarkdown(
      '[a](https://example.com) [b](javascript:alert(1)) [c](data:text/html,x) [d](/help) [e](ftp://x)',
    );
    expect(html).toContain(
      'href="https://example.com" target="_blank" rel="noopener noreferrer nofollow"',
    );
    expect(html).toContain('href="/help"');
    expect(html).not.toMatch(/href="(javascript|data|ftp):/);
    expect(html.match(/<a /g)).toHaveLength(2);
  });
});
