// A received mail's HTML body made safe to show: no scripts, forms, frames or event
// handlers, no javascript: links, and NO remote content (images, styles, fonts,
// backgrounds) — loading one would tell the sender the mail was read. The result is
// shown in a sandboxed iframe (no scripts, no same-origin) whose own CSP allows only
// inline styles and data: images, so even a miss here loads nothing remote.
const DROP = 'script,iframe,frame,frameset,object,embed,applet,form,input,button,textarea,select,option,link,meta,base,noscript,template,portal,audio,video,source,track';
const URL_ATTRS = ['src', 'srcset', 'background', 'poster', 'lowsrc', 'dynsrc', 'data', 'action', 'formaction', 'xlink:href', 'ping', 'longdesc', 'cite', 'usemap', 'manifest', 'profile', 'codebase', 'archive', 'classid'];
const INLINE_IMAGE = /^\s*data:image\/(png|gif|jpe?g|webp|bmp);/i;
const CSS_REMOTE = /url\s*\(|@import|image-set\s*\(|expression\s*\(|behavior\s*:|-moz-binding/gi;

export const FRAME_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:";

export interface SafeHtml {
  /** a whole document for the iframe's srcdoc */
  doc: string;
  /** how many remote references were removed (for the "not loaded" note) */
  blocked: number;
}

function cleanCss(css: string): { css: string; hits: number } {
  let hits = 0;
  const out = css.replace(CSS_REMOTE, () => {
    hits++;
    return 'invalid(';
  });
  return { css: out, hits };
}

export function sanitizeMailHtml(html: string): SafeHtml {
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  let blocked = 0;
  for (const el of [...parsed.querySelectorAll(DROP)]) {
    if (el.tagName === 'LINK' || el.hasAttribute('src')) blocked++;
    el.remove();
  }
  for (const style of [...parsed.querySelectorAll('style')]) {
    const { css, hits } = cleanCss(style.textContent ?? '');
    blocked += hits;
    style.textContent = css;
  }
  for (const el of [...parsed.querySelectorAll('*')]) {
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on') || name === 'srcdoc' || name === 'formtarget' || name === 'http-equiv') {
        el.removeAttribute(attr.name);
      } else if (URL_ATTRS.includes(name)) {
        if (name === 'src' && el.tagName === 'IMG' && INLINE_IMAGE.test(attr.value)) continue;
        el.removeAttribute(attr.name);
        blocked++;
      } else if (name === 'href') {
        if (/^\s*(javascript|vbscript|data|file):/i.test(attr.value)) el.removeAttribute(attr.name);
        else {
          el.setAttribute('target', '_blank');
          el.setAttribute('rel', 'noopener noreferrer');
        }
      } else if (name === 'style') {
        const { css, hits } = cleanCss(attr.value);
        blocked += hits;
        if (hits) el.setAttribute('style', css);
      }
    }
  }
  const headStyles = [...parsed.head.querySelectorAll('style')].map((s) => s.outerHTML).join('');
  const doc =
    '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}">` +
    '<base target="_blank">' +
    '<style>body{font-family:system-ui,sans-serif;margin:12px;word-wrap:break-word}img{max-width:100%}</style>' +
    headStyles +
    '</head><body>' +
    parsed.body.innerHTML +
    '</body></html>';
  return { doc, blocked };
}
