import MarkdownIt from 'markdown-it';

/**
 * Markdown as HTML that is safe to put into the page: raw HTML in the source is shown as text
 * (`html: false`), links may only be http(s), mailto or relative (markdown-it's `validateLink`
 * already refuses `javascript:`, `vbscript:`, `file:` and most `data:`; this narrows it further)
 * and open in a new tab without an opener. One renderer for every Markdown view (content views,
 * diffs, share pages, the editor's preview).
 */
const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: false });

const SAFE_LINK = /^(https?:|mailto:|[#/?.]|[^:]*$)/i;
md.validateLink = (url) => SAFE_LINK.test(url.trim());

const defaultLinkOpen =
  md.renderer.rules.link_open ??
  ((tokens, i, options, _env, self) => self.renderToken(tokens, i, options));
md.renderer.rules.link_open = (tokens, i, options, env, self) => {
  tokens[i]!.attrSet('target', '_blank');
  tokens[i]!.attrSet('rel', 'noopener noreferrer nofollow');
  return defaultLinkOpen(tokens, i, options, env, self);
};

/** Renders Markdown to sanitized HTML (see above). */
export function renderMarkdown(source: string): string {
  return md.render(source);
}
