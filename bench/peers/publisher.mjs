// The invalidating side of a peer system for the peer rows of make bench (bench/lag/peer-lag.ts), in its own
// process because the peers are ES modules with their own dependencies. Prints "ready", then
// invalidates <rate>/s for <seconds> with the peer's own API (from <start-at>, epoch ms, if given),
// and prints {sent, elapsed, sentAt} as JSON. With <warm> (> 0), it first sends that many
// invalidations, unrecorded, at WARM_UP_RATE (the receivers ignore them), then a marker on which
// the receivers restart their meters; <start-at> may be "-" for none.
//   node publisher.mjs bentocache <redis-url> <store> <rate> <seconds> [<start-at>] [<warm>]
//     BentoCache delete of "t:<time>" keys (L1, L2 and a bus message each), then of "end"; the
//     warm-up deletes "w:<i>", then "w:done".
//   node publisher.mjs node-redis <redis-url> <key prefix> <rate> <seconds> [<start-at>] [<warm>]
//     SET of <prefix>0, <prefix>1, ... in turn (sentAt: when each was sent), then of <prefix>end;
//     the warm-up sets <prefix>w0, <prefix>w1, ..., then <prefix>wdone.
//   node publisher.mjs node-redis-seed <redis-url> <key prefix> <count> [<warm>]
//     creates the keys the node-redis receivers cache before the run (the warm-up's too).
const [system, url, name, rateArg, secondsArg, startAtArg, warmArg] = process.argv.slice(2);
/** The warm-up's pace: 20,000 messages take 4 s (bench/lag/peer-lag.ts plans the lead by it). */
const WARM_UP_RATE = 5000;
const warm = Number(warmArg ?? 0);
const USAGE =
  'usage: node bench/peers/publisher.mjs bentocache|node-redis <redis-url> <store|prefix> <rate> <seconds> [<start-at>|-] [<warm>] | node-redis-seed <redis-url> <prefix> <count> [<warm>]\n(the invalidating side of the peer rows of make bench; see the comment at the top of this file)\n';
if (system === '--help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
const now = () => performance.timeOrigin + performance.now();
const finish = (result) => process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));

/** Calls send() as often as due at `rate`, every millisecond, for `seconds`, from `startAt` (epoch ms) if later. */
async function paced(rate, seconds, send, startAt = Number(startAtArg)) {
  if (startAt > now()) await new Promise((resolve) => setTimeout(resolve, startAt - now()));
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      for (; sent < due; sent += 1) send(sent);
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  return { sent, elapsed: (performance.now() - started) / 1000 };
}

/** The unrecorded warm-up (when <warm> is given), then its marker, sent after all of it on one connection. */
async function warmUp(send, done) {
  if (!(warm > 0)) return;
  await paced(WARM_UP_RATE, warm / WARM_UP_RATE, send, 0);
  await done();
}

if (system === 'bentocache') {
  const { openBento } = await import('./bento.mjs');
  const bento = await openBento(url, name);
  process.stdout.write('ready\n');
  await warmUp(
    (i) => void bento.delete({ key: `w:${i}` }),
    () => bento.delete({ key: 'w:done' }),
  );
  const { sent, elapsed } = await paced(Number(rateArg), Number(secondsArg), () => {
    void bento.delete({ key: `t:${now()}` });
  });
  await bento.delete({ key: 'end' });
  finish({ sent, elapsed, sentAt: [] });
} else if (system === 'node-redis' || system === 'node-redis-seed') {
  const { createClient } = await import('redis');
  const client = createClient({ url });
  await client.connect();
  if (system === 'node-redis-seed') {
    const count = Number(rateArg);
    const seedWarm = Number(secondsArg ?? 0);
    const keys = [
      ...Array.from({ length: count }, (_, i) => `${name}${i}`),
      `${name}end`,
      ...(seedWarm > 0 ? [...Array.from({ length: seedWarm }, (_, i) => `${name}w${i}`), `${name}wdone`] : []),
    ];
    for (let i = 0; i < keys.length; i += 1000)
      await Promise.all(keys.slice(i, i + 1000).map((key) => client.set(key, '1', { EX: 600 })));
    process.stdout.write('ready\n');
    finish({});
  } else {
    process.stdout.write('ready\n');
    await warmUp(
      (i) => void client.set(`${name}w${i}`, '2', { EX: 600 }),
      () => client.set(`${name}wdone`, '2', { EX: 600 }),
    );
    const sentAt = [];
    const { sent, elapsed } = await paced(Number(rateArg), Number(secondsArg), (i) => {
      sentAt.push(now());
      void client.set(`${name}${i}`, '2', { EX: 600 });
    });
    await client.set(`${name}end`, '2', { EX: 600 });
    finish({ sent, elapsed, sentAt });
  }
} else {
  process.stderr.write(USAGE);
  process.exit(2);
}
