/**
 * For people who write their own transport, or wire Redis around the library: the transport and
 * log interfaces, the Redis transport itself, subscriber states, the Redis key scheme of a
 * channel and a command client per topology.
 *
 * @packageDocumentation
 */
export {
  channelKeys,
  commandClient,
  type RedisNode,
  TOPOLOGIES,
} from './sync/redis-topology';
export { RedisTransport, type RedisTransportOptions } from './sync/redis-transport';
export type {
  InvalidationLog,
  InvalidationTransport,
  MembershipRegistry,
  SubscriberState,
  SubscriberStateListener,
} from './sync/transport';
