export type { Projection, ProjectionSnapshot, ProjectionState } from './projection.js';
export { projection } from './projection.js';
export type { ProjectionEvents } from './projection-events.js';
export type {
  ProjectionContext,
  ProjectionOptions,
  ProjectionReadModel,
} from './projection-options.js';
export { projectionDefaults } from './projection-options.js';
