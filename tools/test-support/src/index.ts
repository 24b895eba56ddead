export type { ServerKind } from './servers.js';
export { describeWithServers, isCI, isReachable, requireServers, serverUrl, uniqueName } from './servers.js';
