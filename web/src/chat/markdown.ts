// Markdown for assistant text. Raw HTML in the text is shown as text, never parsed, so
// model output cannot inject markup; code blocks are highlighted.
import { Marked } from 'marked';
import hljs from 'highlight.js/lib/core';
import 'highlight.js/styles/github.css';
import bash from 'highlight.js/lib/languages/bash';
import javascript from 'highlight.js/lib/languages/javascript';
import typescript from 'highlight.js/lib/languages/typescript';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import json from 'highlight.js/lib/languages/json';
import go from 'highlight.js/lib/languages/go';

for (const [name, language] of Object.entries({ bash, javascript, typescript, python, rust, json, go })) hljs.registerLanguage(name, language);

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const marked = new Marked({
  gfm: true,
  renderer: {
    html: ({ text }) => escape(text),
    code: ({ text, lang }) => {
      const language = lang && hljs.getLanguage(lang) ? lang : null;
      const body = language ? hljs.highlight(text, { language }).value : escape(text);
      return `<pre><code class="hljs${language ? ` language-${language}` : ''}">${body}</code></pre>`;
    },
    link: ({ href, text }) => {
      const safe = /^(https?:|mailto:)/i.test(href) ? href : '#';
      return `<a href="${escape(safe)}" rel="noopener noreferrer" target="_blank">${text}</a>`;
    },
    image: ({ text }) => escape(text),
  },
});

/** Renders Markdown to HTML that is safe to insert. */
export function renderMarkdown(text: string): string {
  return marked.parse(text, { async: false }) as string;
}
