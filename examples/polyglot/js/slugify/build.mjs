// Builds slugify.js into a component of the world `libos:runtime/tool` with every WASI
// feature of the engine turned off, so its only imports are `libos:runtime` interfaces.
// Usage: node build.mjs OUT.wasm
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = process.argv[2];
if (!out) throw new Error('usage: node build.mjs OUT.wasm');

const { component } = await componentize({
  sourcePath: here('slugify.js'),
  witPath: here('../../../../wit'),
  worldName: 'tool',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(out, component);
