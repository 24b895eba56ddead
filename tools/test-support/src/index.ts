export type { FaultProxy, FaultProxyTarget, LatencyOptions } from './fault-proxy.js';
export { faultProxy } from './fault-proxy.js';
export { freePort } from './free-port.js';
export type { RedisClusterProcess } from './redis-cluster.js';
export { describeWithRedisCluster, redisClusterBinaries, startRedisCluster } from './redis-cluster.js';
export type { ServerKind } from './servers.js';
export { describeWithServers, isCI, isReachable, requireServers, serverUrl, uniqueName } from './servers.js';
