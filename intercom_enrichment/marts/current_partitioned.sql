-- The current state of a partitioned object ($table): one row per $key, in its latest known
-- state. current_conversations and current_tickets are this model (objects: CurrentState).
--
-- Inputs (views defined by the runner, intercom_enrichment/marts/runner.py and views.py):
--   previous_$table  current/$table rows of the months being refreshed
--   new_$table       rows of the window files folded in by this refresh
--   admins, teams    dimension snapshots (dimensions/*.parquet; empty when absent)
--
-- Columns: every column of the window table `$table` (docs/data-contract.md), plus
--   admin_assignee_name  name of admin_assignee_id in dimensions/admins.parquet; null when
--                        unassigned or the admin is unknown
--   team_assignee_name   name of team_assignee_id in dimensions/teams.parquet; same rule
--   created_month        'YYYY-MM' of created_at (UTC): the partition of current/$table
--                        (created_at never changes, so a row stays in one partition)
--
-- Latest = greatest updated_at; ties: greatest extracted_at (a rerun of the same window wins),
-- then the later window (start, then end), then the newly folded row (for a window folded
-- in again). The rule does not depend on the order windows are folded in, so
-- folding a window twice, or windows out of order, gives the same rows. The runner leaves
-- out of previous_$table the rows of windows that changed since they were folded, and
-- puts into new_$table every published row of those ids (views.py, "orphans").
--
-- The runner runs this once per chunk of ids (variables `chunks` and `chunk`), so the
-- grouping and the join below hold one chunk's ids, not every id of a large refresh; every
-- version of an id is in the same chunk.
WITH candidates AS NOT MATERIALIZED (  -- scanned twice: cheaper than holding it
    SELECT *
    FROM (
        SELECT * EXCLUDE (admin_assignee_name, team_assignee_name, created_month),
               false AS folded_now
        FROM previous_$table
        UNION ALL BY NAME
        SELECT *, true AS folded_now FROM new_$table
    )
    WHERE hash($key) % coalesce(getvariable('chunks'), 1)
        = coalesce(getvariable('chunk'), 0)
),
-- The winning version of each id, computed on four narrow columns (sorting whole rows is the
-- expensive part); `folded_now` only breaks the tie of a window folded in again.
latest_versions AS (
    SELECT $key,
           max((updated_at, extracted_at, window_start, window_end, folded_now)) AS version
    FROM candidates
    GROUP BY $key
),
latest AS (
    SELECT candidates.* EXCLUDE (folded_now)
    FROM candidates
    JOIN latest_versions
        ON latest_versions.$key = candidates.$key
        AND latest_versions.version = (candidates.updated_at, candidates.extracted_at,
                                       candidates.window_start, candidates.window_end,
                                       candidates.folded_now)
)
SELECT
    latest.*,
    admins.name AS admin_assignee_name,
    teams.name AS team_assignee_name,
    strftime(latest.created_at, '%Y-%m') AS created_month
FROM latest
LEFT JOIN admins ON admins.admin_id = latest.admin_assignee_id
LEFT JOIN teams ON teams.team_id = latest.team_assignee_id
