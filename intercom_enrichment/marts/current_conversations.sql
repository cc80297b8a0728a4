-- current_conversations: one row per conversation id, in its latest known state.
--
-- Inputs (views defined by the runner, intercom_enrichment/marts/runner.py):
--   previous_conversations  current/conversations rows of the months being refreshed
--   new_conversations       rows of the window files folded in by this refresh
--   admins, teams           dimension snapshots (dimensions/*.parquet; empty when absent)
--
-- Columns: every column of the window table `conversations` (docs/data-contract.md), plus
--   admin_assignee_name  name of admin_assignee_id in dimensions/admins.parquet; null when
--                        unassigned or the admin is unknown
--   team_assignee_name   name of team_assignee_id in dimensions/teams.parquet; same rule
--   created_month        'YYYY-MM' of created_at (UTC): the partition of current/conversations
--                        (created_at never changes, so a conversation stays in one partition)
--
-- Latest = greatest updated_at; ties: greatest extracted_at (a rerun of the same window wins),
-- then the later window (start, then end), then the newly folded row (for a window folded
-- in again). The rule does not depend on the order windows are folded in, so
-- folding a window twice, or windows out of order, gives the same rows. The runner leaves
-- out of previous_conversations the rows of windows that changed since they were folded, and
-- puts into new_conversations every published row of those ids (runner.py, "orphans").
--
-- The runner runs this once per chunk of conversation ids (variables `chunks` and `chunk`), so
-- the grouping and the join below hold one chunk's ids, not every id of a large refresh; every
-- version of an id is in the same chunk.
WITH candidates AS NOT MATERIALIZED (  -- scanned twice: cheaper than holding it
    SELECT *
    FROM (
        SELECT * EXCLUDE (admin_assignee_name, team_assignee_name, created_month),
               false AS folded_now
        FROM previous_conversations
        UNION ALL BY NAME
        SELECT *, true AS folded_now FROM new_conversations
    )
    WHERE hash(conversation_id) % coalesce(getvariable('chunks'), 1)
        = coalesce(getvariable('chunk'), 0)
),
-- The winning version of each id, computed on four narrow columns (sorting whole rows is the
-- expensive part); `folded_now` only breaks the tie of a window folded in again.
latest_versions AS (
    SELECT conversation_id,
           max((updated_at, extracted_at, window_start, window_end, folded_now)) AS version
    FROM candidates
    GROUP BY conversation_id
),
latest AS (
    SELECT candidates.* EXCLUDE (folded_now)
    FROM candidates
    JOIN latest_versions
        ON latest_versions.conversation_id = candidates.conversation_id
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
