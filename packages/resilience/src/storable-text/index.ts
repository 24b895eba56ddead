export type { JsonTextProblem } from './storable-text.js';
export {
  jsonTextProblem,
  keyProblem,
  maxKeyBytes,
  storableDiagnostic,
  textProblem,
  unicodeProblem,
} from './storable-text.js';
