/**
 * The standard HTTP resilience pipeline of `@bulwark/resilience/http` as an undici interceptor:
 * `new Agent().compose(resilientInterceptor(options))`. Needs the optional peer `undici`.
 *
 * @module @bulwark/resilience/undici
 */

export type { ResilientInterceptor, ResilientInterceptorOptions } from './resilient-interceptor.js';
export { resilientInterceptor } from './resilient-interceptor.js';
