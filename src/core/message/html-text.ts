// The text part when only HTML is given. html-to-text costs ~0.1 ms per message, so it runs
// once per run where it can: a static HTML template is converted once, and an HTML template whose
// placeholders are all plain `{{field}}` in text positions becomes a text template (converted with
// stand-ins for the placeholders, which are then put back). Anything else (blocks, helpers,
// `{{{raw}}}`, placeholders in <head> or attributes html-to-text drops) is converted per message.
import { randomBytes } from 'node:crypto';
import { compile as compileHtmlToText } from 'html-to-text';
import { compilePart, parsePart, type PartTemplate } from './templates.js';

const headings = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } }));

/** The converter options used for every derived text part. */
export const htmlToText = compileHtmlToText({
  wordwrap: 78,
  selectors: [
    ...headings,
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
  ],
});

/** How the text part is produced from an HTML template. */
export type DerivedText =
  | { kind: 'static'; text: string }
  | { kind: 'template'; template: PartTemplate; source: string }
  | { kind: 'per-message' };

function isSimple(ast: hbs.AST.Program): boolean {
  return ast.body.every((node) => {
    if (node.type === 'ContentStatement' || node.type === 'CommentStatement') return true;
    if (node.type !== 'MustacheStatement') return false;
    const m = node as hbs.AST.MustacheStatement;
    const p = m.path as hbs.AST.PathExpression;
    return m.escaped && m.path.type === 'PathExpression' && !m.params.length && !m.hash && p.depth === 0 && p.parts.length > 0;
  });
}

/** Decides once per run how to make the text part from `htmlSource` (already syntax-checked). */
export function deriveText(htmlSource: string): DerivedText {
  const ast = parsePart(htmlSource, 'html');
  const mustaches = ast.body.filter((n) => n.type === 'MustacheStatement') as hbs.AST.MustacheStatement[];
  if (!mustaches.length && ast.body.every((n) => n.type !== 'BlockStatement' && n.type !== 'PartialStatement')) {
    // Static HTML, but Handlebars still un-escapes `\{{` and drops comments: render it once.
    return { kind: 'static', text: htmlToText(compilePart(htmlSource, 'html')({})) };
  }
  if (!isSimple(ast)) return { kind: 'per-message' };
  const nonce = randomBytes(4).toString('hex');
  const stand = (i: number) => `mcv${nonce}x${i}z`;
  let html = '';
  const originals: string[] = [];
  for (const node of ast.body) {
    if (node.type === 'ContentStatement') html += (node as hbs.AST.ContentStatement).value;
    else if (node.type === 'MustacheStatement') {
      const path = ((node as hbs.AST.MustacheStatement).path as hbs.AST.PathExpression).original;
      html += stand(originals.length);
      originals.push(`{{${path}}}`);
    }
  }
  let text = htmlToText(html);
  // Static text must stay literal in the text template: escape any mustache opener, and give up
  // when a backslash would escape a restored placeholder.
  if (new RegExp(`\\\\(\\{\\{|mcv${nonce})`).test(text)) return { kind: 'per-message' };
  text = text.replace(/\{\{/g, '\\{{');
  for (let i = 0; i < originals.length; i++) {
    const parts = text.split(stand(i));
    if (parts.length !== 2) return { kind: 'per-message' };
    text = parts.join(originals[i]!);
  }
  try {
    return { kind: 'template', template: compilePart(text, 'text'), source: text };
  } catch {
    return { kind: 'per-message' }; // the converted text is not a valid template after all: stay exact
  }
}
