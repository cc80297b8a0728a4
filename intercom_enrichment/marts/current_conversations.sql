-- current_conversations: one row per conversation id, in its latest known state.
--
-- Inputs (views defined by the runner, intercom_enrichment/marts/refresh.py):
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
-- then the later window. The rule does not depend on the order windows are folded in, so
-- folding a window twice, or windows out of order, gives the same rows.
WITH candidates AS (
    SELECT * EXCLUDE (admin_assignee_name, team_assignee_name, created_month)
    FROM previous_conversations
    UNION ALL BY NAME
    SELECT * FROM new_conversations
),
latest AS (
    SELECT *
    FROM candidates
    QUALIFY row_number() OVER (
        PARTITION BY conversation_id
        ORDER BY updated_at DESC, extracted_at DESC, window_start DESC
    ) = 1
)
SELECT
    latest.*,
    admins.name AS admin_assignee_name,
    teams.name AS team_assignee_name,
    strftime(latest.created_at, '%Y-%m') AS created_month
FROM latest
LEFT JOIN admins ON admins.admin_id = latest.admin_assignee_id
LEFT JOIN teams ON teams.team_id = latest.team_assignee_id
