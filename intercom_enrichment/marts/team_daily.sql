-- team_daily: support_daily's measures per UTC day of creation and current team assignee.
-- Definitions: docs/data-contract.md. Conversations without a team form their own row.
--
-- Columns:
--   day                          UTC date of created_at
--   team_assignee_id             the conversation's current team assignee (null: none)
--   team_assignee_name           from dimensions/teams.parquet (null: none or unknown)
--   conversations                conversations created that day, assigned to this team now
--   conversations_closed         of those, closed now
--   median_time_to_admin_reply   seconds
--   median_time_to_first_close   seconds
--   reopened                     count_reopens > 0
--   rated, mean_rating           rated conversations and their mean rating (1–5)
SELECT
    CAST(created_at AS DATE) AS day,
    team_assignee_id,
    any_value(team_assignee_name) AS team_assignee_name,
    -- include: measures.sql
FROM current_conversations
GROUP BY day, team_assignee_id
ORDER BY day, team_assignee_id NULLS LAST
