// How long V8 takes to compile each module the way Envoy's V8 does it (TurboFan only, every
// function up front), outside Envoy: the part of a rollout that the module's size sets.
//
//   node --no-liftoff --no-wasm-lazy-compilation bench/v8_compile.js a.wasm b.wasm ...
//
// Node's V8 is not Envoy's, so only the ratios between modules carry over. Each compile gets
// fresh bytes (a nonce custom section), since V8 reuses a module it compiled before; the
// modules take turns, 7 rounds, and the median and min-max are printed.
'use strict';
const fs = require('fs');

const files = process.argv.slice(2);
const rounds = 7;

function withNonce(bytes, n) {
  const name = Buffer.from('bench-nonce');
  const payload = Buffer.concat([Buffer.from([name.length]), name, Buffer.from(String(n).padStart(8, '0'))]);
  return Buffer.concat([bytes, Buffer.from([0, payload.length]), payload]);
}

(async () => {
  const times = new Map(files.map((f) => [f, []]));
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    for (const f of files) {
      const bytes = withNonce(fs.readFileSync(f), n++);
      const start = process.hrtime.bigint();
      await WebAssembly.compile(bytes);
      times.get(f).push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  for (const f of files) {
    const s = times.get(f).sort((a, b) => a - b);
    const size = fs.statSync(f).size.toLocaleString('en');
    console.log(`${f}  ${size} bytes  ${s[rounds >> 1].toFixed(0)} ms (${s[0].toFixed(0)} to ${s[rounds - 1].toFixed(0)})`);
  }
})();
