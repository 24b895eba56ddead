export type { RetryPolicy } from './retry.js';
export { attemptsOf, retry } from './retry.js';
export type { RetryBudget, RetryBudgetOptions, RetryBudgetSnapshot } from './retry-budget.js';
export { retryBudget, retryBudgetDefaults } from './retry-budget.js';
export type { GiveUpEvent, GiveUpReason, RetryEvent, RetryEvents } from './retry-events.js';
export type { RetryDecisionContext, RetryOptions } from './retry-options.js';
export { retryDefaults } from './retry-options.js';
