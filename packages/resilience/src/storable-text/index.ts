export type { JsonTextProblem } from './storable-text.js';
export { jsonTextProblem, keyProblem, maxKeyBytes, textProblem, unicodeProblem } from './storable-text.js';
