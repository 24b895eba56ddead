// Groups each module's exports by concept (circuit breaker, retry, outbox, …) instead of by kind,
// from the source file that declares them, unless the export already carries a `@group` tag.
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc';

/** Path fragment → group title, first match wins (paths are package-relative, e.g. src/retry/retry.ts). */
const concepts = [
  // First, so the HTTP client's own errors, options and Retry-After parsing stay together.
  ['/http/', 'HTTP'],
  ['circuit-state', 'Circuit breaker'],
  ['circuit-breaker', 'Circuit breaker'],
  ['retry', 'Retry'],
  ['backoff', 'Retry'],
  ['timeout', 'Timeout'],
  ['bulkhead', 'Bulkhead'],
  ['fallback', 'Fallback'],
  ['hedge', 'Hedge'],
  ['rate-limit', 'Rate limiting'],
  ['pipeline', 'Policies and pipeline'],
  ['policy', 'Policies and pipeline'],
  ['rate-limit', 'Rate limiting'],
  ['manual-clock', 'Clock'],
  ['clock', 'Clock'],
  ['async-reply', 'Async reply'],
  ['claim-check', 'Claim check'],
  ['blob', 'Claim check'],
  ['idempotency', 'Idempotency'],
  ['outbox', 'Outbox'],
  ['inbox', 'Inbox'],
  ['dead-letter', 'Dead letters'],
  ['consumer', 'Consumer'],
  ['transport', 'Transports'],
  ['in-flight', 'Transports'],
  ['envelope', 'Envelope'],
  ['serializer', 'Envelope'],
  ['saga-log', 'Saga log'],
  ['/log/', 'Saga log'],
  ['definition', 'Saga definition'],
  ['orchestrator', 'Orchestrator'],
  ['run-state', 'Orchestrator'],
  ['errors', 'Errors'],
  // Last, so a concept's own events (retry-events.ts…) stay with the concept.
  ['events', 'Events'],
  ['event.ts', 'Events'],
];

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(
    Converter.EVENT_RESOLVE_END,
    (context) => {
      const project = context.project;
      for (const module of project.getReflectionsByKind(ReflectionKind.Module)) {
        for (const child of module.children ?? []) {
          if (child.kindOf(ReflectionKind.Reference)) continue;
          const comments = [child.comment, ...(child.signatures ?? []).map((s) => s.comment)];
          if (comments.some((c) => c?.blockTags.some((t) => t.tag === '@group'))) continue;
          const path = project.getSymbolIdFromReflection(child)?.packagePath ?? '';
          const concept = concepts.find(([fragment]) => path.includes(fragment))?.[1];
          if (!concept) continue;
          child.comment ??= new Comment();
          child.comment.blockTags.push(new CommentTag('@group', [{ kind: 'text', text: concept }]));
        }
      }
    },
    // Before typedoc's GroupPlugin (priority -100) builds the groups.
    0,
  );
}
