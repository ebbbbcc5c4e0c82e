import { randomBytes } from 'node:crypto';
import { freePort, waitFor } from '../../local-stack/processes';
import { type ReplicaProcess, spawnReplica } from '../../local-stack/replica-process';
import { processEnv, uniqueName } from '../harness/replicas';

/**
 * make crash-before-publish in Docker: the replica is its container's PID 1 (node as the
 * entrypoint) or a child of an init (compose's `init: true`). Run the same way here, in a PID
 * namespace of its own. Expected in both: the armed write commits, the process dies before
 * publishing, and another replica reads the committed version from the database.
 */
describe.each([
  ['node as PID 1', ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc']],
  [
    'node under an init (a shell as PID 1)',
    ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c', 'exec "$0" "$@" & wait'],
  ],
])('crash-before-publish with %s', (_name, wrapper) => {
  let crashing: ReplicaProcess;
  let other: ReplicaProcess;
  const token = randomBytes(18).toString('base64url');
  let adminPort = 0;

  beforeAll(async () => {
    const env = processEnv('pid1', { LOG_LEVEL: 'warn' });
    other = await spawnReplica(uniqueName('other'), env);
    adminPort = await freePort();
    crashing = await spawnReplica(
      uniqueName('pid1'),
      { ...env, CHAOS_ENABLED: '1', CHAOS_TOKEN: token, CHAOS_PORT: String(adminPort) },
      [],
      wrapper as string[],
    );
  });
  afterAll(async () => {
    await Promise.all([crashing?.stop('SIGKILL'), other?.stop()]);
  });

  it('commits the write, dies before publishing, and the other replica reads what was committed', async () => {
    const created = (await (
      await fetch(`${crashing.url}/books`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: uniqueName('pid1'), author: 'n/a', year: 1 }),
      })
    ).json()) as { id: string };
    const armed = await fetch(`http://127.0.0.1:${adminPort}/chaos/crash-before-publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    expect(armed.status).toBe(200);
    const write = await fetch(`${crashing.url}/books/${created.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ year: 2 }),
    }).then(
      (response) => response.status,
      () => 'connection lost',
    );
    expect(write).toBe('connection lost');
    await waitFor(() => crashing.child.exitCode !== null || crashing.child.signalCode !== null, {
      message: 'the crashing replica exited',
    });
    const read = (await (await fetch(`${other.url}/books/${created.id}`)).json()) as { version: number };
    expect(read.version).toBe(2);
  });
});
