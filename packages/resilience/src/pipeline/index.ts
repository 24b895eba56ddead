export type { FallbackValues, PipelineMember, PipelinePolicy } from './pipeline.js';
export { pipeline } from './pipeline.js';
