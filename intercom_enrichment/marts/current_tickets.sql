-- current_tickets: one row per ticket id, in its latest known state.
--
-- Inputs (views defined by the runner, intercom_enrichment/marts/runner.py):
--   previous_tickets  current/tickets rows of the months being refreshed
--   new_tickets       rows of the window files folded in by this refresh
--   admins, teams     dimension snapshots (dimensions/*.parquet; empty when absent)
--
-- Columns: every column of the window table `tickets` (docs/data-contract.md), plus
--   admin_assignee_name  name of admin_assignee_id in dimensions/admins.parquet; null when
--                        unassigned or the admin is unknown
--   team_assignee_name   name of team_assignee_id in dimensions/teams.parquet; same rule
--   created_month        'YYYY-MM' of created_at (UTC): the partition of current/tickets
--
-- Latest = greatest updated_at; ties: greatest extracted_at, then the later window (start,
-- then end), then the newly folded row — the rule of current_conversations.sql, for the same
-- reasons (order independent, idempotent).
WITH candidates AS NOT MATERIALIZED (
    SELECT *
    FROM (
        SELECT * EXCLUDE (admin_assignee_name, team_assignee_name, created_month),
               false AS folded_now
        FROM previous_tickets
        UNION ALL BY NAME
        SELECT *, true AS folded_now FROM new_tickets
    )
    WHERE hash(ticket_id) % coalesce(getvariable('chunks'), 1)
        = coalesce(getvariable('chunk'), 0)
),
latest_versions AS (
    SELECT ticket_id,
           max((updated_at, extracted_at, window_start, window_end, folded_now)) AS version
    FROM candidates
    GROUP BY ticket_id
),
latest AS (
    SELECT candidates.* EXCLUDE (folded_now)
    FROM candidates
    JOIN latest_versions
        ON latest_versions.ticket_id = candidates.ticket_id
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
