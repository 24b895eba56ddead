export type { JsonTextProblem } from './storable-text.js';
export { jsonTextProblem, keyProblem, maxKeyBytes, textProblem } from './storable-text.js';
