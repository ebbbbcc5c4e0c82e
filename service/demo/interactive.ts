import { SYNC_MODES } from '@local-cache-sync/core';
import type { FaultName } from '../local-stack/faults';
import type { Stack } from '../local-stack/stack';
import type { Director } from './director';
import type { Display } from './display';

const KEY_FAULTS: Record<string, FaultName> = {
  k: 'kill',
  p: 'pause',
  s: 'short-pause',
  c: 'cut',
  x: 'crash',
  g: 'garbage',
  f: 'failover',
};
const KEY_HEALS: Record<string, FaultName> = { h: 'cut', b: 'failover' };

/** The live view: keys inject and heal faults on the selected replica; q or Ctrl-C stops everything. */
export async function interactive(stack: Stack, director: Director, display: Display): Promise<number> {
  const state = display.state;
  state.selected = stack.replicas.length - 1;
  let redisDown = false;
  let quit: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (quit = resolve));

  const onKey = async (key: string) => {
    if (key === 'q' || key === '\u0003') return quit();
    if (key === '?') {
      state.help = !state.help;
      return display.draw();
    }
    if (/^[1-9]$/.test(key) && Number(key) <= stack.replicas.length) {
      state.selected = Number(key) - 1;
      return display.draw();
    }
    try {
      if (key === 'm') {
        const next = SYNC_MODES[(SYNC_MODES.indexOf(stack.syncMode) + 1) % SYNC_MODES.length]!;
        await director.setMode(next);
      } else if (key === 'R') {
        redisDown = !redisDown;
        await (redisDown ? director.inject('restart-redis', 0) : director.heal('restart-redis', 0));
      } else if (key === 'u') {
        await director.heal(director.open(state.selected, ['short-pause', 'pause']), state.selected);
      } else if (key === 'r') {
        await director.heal(director.open(state.selected, ['crash', 'kill']), state.selected);
      } else if (KEY_FAULTS[key]) await director.inject(KEY_FAULTS[key], state.selected);
      else if (KEY_HEALS[key]) await director.heal(KEY_HEALS[key], state.selected);
      else if (key.trim() !== '')
        display.log(`key ${JSON.stringify(key)} does nothing; ? explains the columns and keys`);
    } catch (error) {
      display.log(`failed: ${(error as Error).message}`);
    }
    display.draw();
  };
  process.stdin.setEncoding('utf8');
  const tty = display.tty && process.stdin.isTTY === true;
  if (tty) process.stdin.setRawMode(true);
  process.stdin.on('data', (chunk: string) => {
    for (const key of tty ? [...chunk] : chunk.trim().split(/\s+/)) void onKey(key);
  });
  process.stdin.resume();
  await done;
  display.stop();
  if (tty) {
    process.stdin.setRawMode(false);
    process.stdout.write('\x1b[2J\x1b[H');
  }
  process.stdin.pause();
  return 0;
}
