// `slugify` as a libOS tool (world `libos:runtime/tool`): {"text": ...} -> {"slug": ...}.
//
// ASCII letters and digits are kept (uppercase lowercased); every run of other characters,
// non-ASCII included, becomes one `-`; no `-` at either end.

const SCHEMA = {
  type: 'object',
  properties: { text: { type: 'string' } },
  required: ['text'],
  additionalProperties: false,
};

function slugify(text) {
  let out = '';
  let gap = false;
  for (const ch of text) {
    let c = ch;
    if (c >= 'A' && c <= 'Z') {
      c = c.toLowerCase();
    } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      gap = true;
      continue;
    }
    if (gap && out !== '') out += '-';
    gap = false;
    out += c;
  }
  return out;
}

export function describe() {
  return {
    name: 'slugify',
    description:
      'Turns a text into a URL slug: lowercase ASCII letters and digits joined by single dashes.',
    inputSchema: JSON.stringify(SCHEMA),
    capabilities: [],
  };
}

export function invoke(input) {
  let text;
  try {
    text = JSON.parse(input).text;
  } catch (e) {
    throw { tag: 'invalid-input', val: `expected {"text": string}: ${e}` };
  }
  if (typeof text !== 'string') {
    throw { tag: 'invalid-input', val: 'text: expected a string' };
  }
  return JSON.stringify({ slug: slugify(text) });
}
