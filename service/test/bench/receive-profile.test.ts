import { type CpuProfile, gcPauses, receiveBreakdown } from '../../../bench/receive/receive-profile';

const frame = (functionName: string, url = '') => ({ functionName, url });
const SUB = 'file:///app/packages/core/dist/sync/invalidation-subscriber.js';

describe('receiveBreakdown', () => {
  it('gives each sample on the receive path to its innermost part, and the rest to the process', () => {
    // root -> handle (subscriber) -> verify (signing) -> Hmac (node:crypto)
    //                             -> apply (subscriber) -> evictOlderThan (local-cache)
    //                                                   -> observe (prom-client, via the metrics observer)
    // root -> parse (ioredis);  root -> (garbage collector);  root -> (idle);  root -> serve (koa)
    const profile: CpuProfile = {
      startTime: 1_000_000,
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 7, 8, 9, 10] },
        { id: 2, callFrame: frame('handle', SUB), children: [3, 5] },
        { id: 3, callFrame: frame('verify', 'file:///app/packages/core/dist/sync/signing.js'), children: [4] },
        { id: 4, callFrame: frame('Hmac', 'node:internal/crypto/hash') },
        { id: 5, callFrame: frame('apply', SUB), children: [6, 11] },
        { id: 6, callFrame: frame('evictOlderThan', 'file:///app/packages/core/dist/cache/local-cache.js') },
        { id: 7, callFrame: frame('parse', 'file:///app/node_modules/ioredis/built/DataHandler.js') },
        { id: 8, callFrame: frame('(garbage collector)') },
        { id: 9, callFrame: frame('(idle)') },
        { id: 10, callFrame: frame('serve', 'file:///app/node_modules/koa/lib/application.js') },
        { id: 11, callFrame: frame('observe', 'file:///app/node_modules/prom-client/lib/histogram.js') },
      ],
      samples: [4, 4, 3, 6, 11, 5, 7, 8, 9, 10],
      timeDeltas: [1000, 1000, 1000, 2000, 500, 250, 3000, 4000, 9000, 700],
    };
    expect(Object.fromEntries(receiveBreakdown(profile))).toEqual({
      verify: 3,
      evict: 2,
      'observe (metrics)': 0.5,
      'subscriber (the rest)': 0.25,
      'redis client': 3,
      'garbage collection': 4,
      'everything else': 0.7,
    });
    // Within a window: the samples taken from 5,100 µs after the start to 12,750 µs (the 5th to the 8th).
    expect(Object.fromEntries(receiveBreakdown(profile, [1_005_100, 1_012_750]))).toEqual({
      'observe (metrics)': 0.5,
      'subscriber (the rest)': 0.25,
      'redis client': 3,
      'garbage collection': 4,
    });
  });
});

describe('gcPauses', () => {
  it("reads every pause from node's --trace-gc lines among other output", () => {
    const output = [
      '[7148:0x189ba000]       25 ms: Scavenge 4.9 (6.0) -> 4.5 (7.0) MB, pooled: 0 MB, 2.28 / 0.00 ms  (average mu = 1.000, current mu = 1.000) allocation failure; ',
      '{"level":30,"msg":"listening"}',
      '[7156:0x1442d000]       28 ms: Mark-Compact 3.9 (5.8) -> 3.7 (6.5) MB, pooled: 0 MB, 6.15 / 0.00 ms  (average mu = 0.720, current mu = 0.720) testing; GC in old space requested',
      '[7156:0x1442d000]       29 ms: Minor Mark-Sweep 3.9 (5.8) -> 3.7 (6.5) MB, pooled: 0 MB, 0.15 / 0.00 ms  (average mu = 1.000)',
    ].join('\n');
    expect(gcPauses(output)).toEqual({ count: 3, totalMs: 8.58, p99Ms: 6.15, maxMs: 6.15, overOneMs: 2 });
  });
});
