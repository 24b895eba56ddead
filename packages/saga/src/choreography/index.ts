export type {
  ChoreographyDefinition,
  ChoreographyOptions,
  ChoreographyStallOptions,
} from './choreography-definition.js';
export { defineChoreography } from './choreography-definition.js';
export type { ChoreographyTracker, ChoreographyTrackerOptions } from './choreography-tracker.js';
export { choreographyTracker, choreographyTrackerDefaults } from './choreography-tracker.js';
export type { FlowTransition } from './flow-transition.js';
export { flowTransition, pendingCompensations, stallTransition } from './flow-transition.js';
export type { MemoryParticipantTransaction } from './memory-participant-store.js';
export { memoryParticipantStore } from './memory-participant-store.js';
export type {
  ParticipantContext,
  ParticipantDefinition,
  ParticipantEmits,
  ParticipantFailure,
  ParticipantOptions,
  ParticipantOutcome,
} from './participant.js';
export { defineParticipant, participantHeaders } from './participant.js';
export type { ParticipantStore, ParticipantWork } from './participant-store.js';
export type { ParticipantConsumeOptions, RunningParticipant, StartParticipantOptions } from './start-participant.js';
export { startParticipant } from './start-participant.js';
