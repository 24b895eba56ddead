export type { FaultPool } from './fault-pool.js';
export { faultPool } from './fault-pool.js';
export type { FaultProxy, FaultProxyTarget, LatencyOptions } from './fault-proxy.js';
export { faultProxy } from './fault-proxy.js';
export type {
  CustomFault,
  FaultDurations,
  FaultName,
  FaultResult,
  FaultScenariosOptions,
  FaultScenariosReport,
} from './fault-scenario-runner.js';
export { runFaultScenarios } from './fault-scenario-runner.js';
export type {
  Books,
  FaultAdapter,
  FaultScenarioOptions,
  FaultSubject,
  RestartableServer,
  RestartScenarioOptions,
} from './fault-scenarios.js';
export { faultNames, faultScenarios, proxyFor, restartScenario } from './fault-scenarios.js';
export { freePort } from './free-port.js';
export { reapOrphanedTestProcesses, testRunOwnerVariable } from './orphaned-test-processes.js';
export type { PrivatePostgres } from './private-postgres.js';
export { postgresBinaries, startPrivatePostgres } from './private-postgres.js';
export type { ProcessWarning } from './process-warnings.js';
export { collectProcessWarnings } from './process-warnings.js';
export type { RabbitMqServerProcess } from './rabbitmq-server.js';
export { createRabbitMqServer, privateRabbitMqUnavailable } from './rabbitmq-server.js';
export type { RedisClusterProcess } from './redis-cluster.js';
export { describeWithRedisCluster, redisClusterBinaries, startRedisCluster } from './redis-cluster.js';
export type { RedisBehindFaultProxy, RestartedRedis } from './redis-harness.js';
export { redisFaultClientOptions, useRedisBehindFaultProxy, useRestartedRedis } from './redis-harness.js';
export type { RedisServerProcess } from './redis-server.js';
export { createRedisServer, describeWithRedisServer, startRedisServer } from './redis-server.js';
export type { ServerKind } from './servers.js';
export { describeWithServers, isCI, isReachable, requireServers, serverUrl, uniqueName } from './servers.js';
