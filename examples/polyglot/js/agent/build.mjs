// Builds agent.js into a component of the world `libos:runtime/agent` with componentize-js's
// default features: it imports WASI (clocks, random, stdio, http) as well.
// Usage: node build.mjs OUT.wasm
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = process.argv[2];
if (!out) throw new Error('usage: node build.mjs OUT.wasm');

const { component } = await componentize({
  sourcePath: here('agent.js'),
  witPath: here('../../../../wit'),
  worldName: 'agent',
});
await writeFile(out, component);
