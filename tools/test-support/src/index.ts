export { freePort } from './free-port.js';
export type { ProcessWarning } from './process-warnings.js';
export { collectProcessWarnings } from './process-warnings.js';
export type { RedisClusterProcess } from './redis-cluster.js';
export { describeWithRedisCluster, redisClusterBinaries, startRedisCluster } from './redis-cluster.js';
export type { ServerKind } from './servers.js';
export { describeWithServers, isCI, isReachable, requireServers, serverUrl, uniqueName } from './servers.js';
