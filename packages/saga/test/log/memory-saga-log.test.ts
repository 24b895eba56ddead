import { memorySagaLog } from '@bulwark/saga';
import { sagaLogConformance } from '@bulwark/saga/testing';

sagaLogConformance('memorySagaLog', { createLog: () => memorySagaLog() });
