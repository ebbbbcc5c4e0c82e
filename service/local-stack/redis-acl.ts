import { channelKeys } from '@local-cache-sync/core/transport';

/** The commands a replica sends: connection set-up, Pub/Sub (sharded in a Cluster), the member registry, the stream log. */
const REPLICA_COMMANDS = [
  'hello',
  'auth',
  'client|setname',
  'info',
  'ping',
  'quit',
  'publish',
  'subscribe',
  'unsubscribe',
  'spublish',
  'ssubscribe',
  'sunsubscribe',
  'cluster|slots',
  'cluster|info',
  'cluster|keyslot',
  'multi',
  'exec',
  'zadd',
  'zremrangebyscore',
  'zcount',
  'zrem',
  'eval',
  'evalsha',
  'xadd',
  'xrange',
  'xinfo|stream',
  'incr',
];

/**
 * The least-privilege Redis ACL rules of a replica: its channel, its three keys, its commands. One
 * definition for the local stack, docker-compose.yml and docs/security.md (tests check they agree).
 */
export const replicaAclRules = (channel: string): string[] => [
  'resetchannels',
  `&${channel}`,
  'resetkeys',
  `~${channelKeys(channel).members}`,
  `~${channelKeys(channel).log}`,
  `~${channelKeys(channel).version}`,
  '-@all',
  ...REPLICA_COMMANDS.map((command) => `+${command}`),
];

export const REPLICA_USER = 'book-replica';

/** redis-server arguments that define the replica user (they survive a restart, unlike ACL SETUSER). */
export const replicaUserArgs = (channel: string, password: string): string[] => [
  '--user',
  REPLICA_USER,
  'on',
  `>${password}`,
  ...replicaAclRules(channel),
];
