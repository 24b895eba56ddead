export type { RetryPolicy } from './retry.js';
export { attemptsOf, retry } from './retry.js';
export type { RetryBudget, RetryBudgetOptions, RetryBudgetSnapshot } from './retry-budget.js';
export { RETRY_BUDGET_DEFAULTS, retryBudget } from './retry-budget.js';
export type { GiveUpEvent, GiveUpReason, RetryEvent, RetryEvents } from './retry-events.js';
export type { RetryDecisionContext, RetryOptions } from './retry-options.js';
export { RETRY_DEFAULTS } from './retry-options.js';
