// A libOS agent in JavaScript (world `libos:runtime/agent`), built with componentize-js's
// default features, so it imports WASI (clocks, random, stdio) like third-party code does.
//
// Input: {"sleep_ms": N, "path": P}. It draws a random number (Math.random) and reads the
// time (Date.now) through WASI, writes both to P with `fs.write`, prints a line, sleeps N ms
// (`time.sleep`), and returns {"random", "time", "slept"}. A host that dies during the
// sleep and is replaced resumes it: the journal gives it the same random number and time,
// so the output matches what it wrote before, and the write is not made again.

import { write } from 'libos:runtime/fs@0.1.0';
import { sleep } from 'libos:runtime/time@0.1.0';

export function run(input) {
  let args;
  try {
    args = JSON.parse(input);
  } catch (e) {
    throw `expected {"sleep_ms": N, "path": P}: ${e}`;
  }
  const drawn = { random: Math.random(), time: Date.now() };
  write(args.path, new TextEncoder().encode(JSON.stringify(drawn)));
  console.log(`drew ${drawn.random}`);
  sleep(BigInt(args.sleep_ms));
  return JSON.stringify({ ...drawn, slept: args.sleep_ms });
}
