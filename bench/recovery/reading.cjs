// The reading loop every replica of the recovery bench runs, whatever its cache: the same fill, the
// same steady random reads, the same 1 s limit on a read, the same report.
// stdin: "window" starts a new per-key count; "report" prints
//   {reads: [[start ms, latency ms, ok 1|0]], samples: [[ms, source reads so far, entries]], maxPerKey}
// as one JSON line and exits.
const { createInterface } = require('node:readline');

const now = () => performance.timeOrigin + performance.now();
const READ_LIMIT_MS = 1000;

/** Resolves with `read`'s outcome, or rejects at READ_LIMIT_MS (a read queued behind a cut). */
function limited(promise) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('read took over 1 s')), READ_LIMIT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

exports.startReading = async ({ count, rate, read, sourceReads, size, maxPerKey, newWindow, close }) => {
  for (let i = 0; i < count; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - i) }, (_, j) => read(i + j)));
  }
  process.stdout.write('ready\n');
  const reads = [];
  const samples = [];
  const started = now();
  let sent = 0;
  const pacer = setInterval(() => {
    const due = Math.floor(((now() - started) / 1000) * rate);
    for (; sent < due; sent += 1) {
      const t = now();
      limited(read(Math.floor(Math.random() * count))).then(
        () => reads.push([t, now() - t, 1]),
        () => reads.push([t, now() - t, 0]),
      );
    }
  }, 1);
  const sampler = setInterval(() => samples.push([now(), sourceReads(), size()]), 100);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'window') newWindow();
    if (line !== 'report') continue;
    clearInterval(pacer);
    clearInterval(sampler);
    samples.push([now(), sourceReads(), size()]);
    const report = JSON.stringify({ reads, samples, maxPerKey: maxPerKey() });
    await close().catch(() => undefined);
    process.stdout.write(`${report}\n`, () => process.exit(0));
    return;
  }
};
