// Builds fetch.js into a component of world `fetch` (wit/world.wit) with componentize-js's
// default features, so it imports what they need (`wasi:http`, `wasi:cli`, `wasi:clocks`…).
// Usage: node build.mjs OUT.wasm
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = process.argv[2];
if (!out) throw new Error('usage: node build.mjs OUT.wasm');

const { component } = await componentize({
  sourcePath: here('fetch.js'),
  witPath: here('wit'),
  worldName: 'fetch',
});
await writeFile(out, component);
