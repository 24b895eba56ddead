-- rate-limit-decide-function.sql: the function that decides a batch of rate-limit decisions in
-- one statement (rate-limit-decide.sql calls it). Part of migrate; safe to run again.
-- {{function}} is its quoted name (in the table's schema). In the CASE below, one placeholder per
-- algorithm is its one-decision statement (rate-limit-<algorithm>.sql) with the parameters $1..$5
-- bound to the variables declared here, so the math has one copy.
--
-- Arguments, one element per decision: kinds ('gcra' | 'fixed-window' | 'sliding-window'),
-- keys, costs, dry runs, limits, periods (µs); the same as $1..$5 of the one-decision statements.
-- Returns one row per decision: ordinal (its 1-based position in the arrays), allowed, remaining,
-- retry_after_us, reset_us.
--
-- Decisions run one after the other, each its own INSERT ... ON CONFLICT (one statement cannot
-- update a row twice), so the same key several times in a batch is decided in order, as if the
-- calls had come one by one. They run sorted by key (bytewise), then position: the row locks,
-- held until the statement commits, are then taken in the same order by every batch, so two
-- batches sharing keys wait for each other but never deadlock.
CREATE OR REPLACE FUNCTION {{function}}(
  kinds text[], keys text[], costs bigint[], dry_runs boolean[], limits bigint[], periods bigint[]
) RETURNS TABLE (ordinal integer, allowed boolean, remaining bigint, retry_after_us bigint, reset_us bigint)
LANGUAGE plpgsql AS $decide$
#variable_conflict use_column
DECLARE
  decision_key text;
  decision_cost bigint;
  decision_dry_run boolean;
  decision_limit bigint;
  decision_period bigint;
BEGIN
  FOR ordinal IN
    SELECT batch.place FROM unnest(keys) WITH ORDINALITY AS batch(key, place)
    ORDER BY batch.key COLLATE "C", batch.place
  LOOP
    decision_key := keys[ordinal];
    decision_cost := costs[ordinal];
    decision_dry_run := dry_runs[ordinal];
    decision_limit := limits[ordinal];
    decision_period := periods[ordinal];
    CASE kinds[ordinal]
      WHEN 'gcra' THEN
        {{gcra}}
        INTO allowed, remaining, retry_after_us, reset_us;
      WHEN 'fixed-window' THEN
        {{fixed_window}}
        INTO allowed, remaining, retry_after_us, reset_us;
      WHEN 'sliding-window' THEN
        {{sliding_window}}
        INTO allowed, remaining, retry_after_us, reset_us;
    END CASE;
    RETURN NEXT;
  END LOOP;
END
$decide$;
