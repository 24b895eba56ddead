import { memorySagaLog } from '../../src/index.js';
import { sagaLogConformance } from '../../src/testing/index.js';

sagaLogConformance('memorySagaLog', { createLog: () => memorySagaLog() });
