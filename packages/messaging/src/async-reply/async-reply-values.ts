import { assertJsonText, assertKeys, assertText } from '../envelope/storable-values.js';
import type { AsyncReplyStore, FinishAsyncReplyRun } from './async-reply-store.js';

/**
 * What every {@link AsyncReplyStore} checks before it touches its backend, so each refuses the
 * same values with `INVALID_VALUE`: ids and kinds are keys, run ids and results text, error
 * details JSON text.
 */
export function assertAsyncReplyValues(values: {
  id: string;
  kind?: string;
  runId?: string;
  outcome?: FinishAsyncReplyRun;
}): void {
  assertKeys(values.kind === undefined ? { id: values.id } : { id: values.id, kind: values.kind });
  if (values.runId !== undefined) assertText('runId', values.runId);
  const outcome = values.outcome;
  if (outcome === undefined) return;
  assertText('runId', outcome.runId);
  if (outcome.status === 'succeeded') assertText('result', outcome.result);
  else assertJsonText('error', outcome.error);
}
