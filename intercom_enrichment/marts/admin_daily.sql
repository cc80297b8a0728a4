-- admin_daily: support_daily's measures per UTC day of creation and current admin assignee.
-- Definitions: docs/data-contract.md. Unassigned conversations form their own row (id null).
--
-- Columns:
--   day                          UTC date of created_at
--   admin_assignee_id            the conversation's current admin assignee (null: unassigned)
--   admin_assignee_name          from dimensions/admins.parquet (null: unassigned or unknown)
--   conversations                conversations created that day, assigned to this admin now
--   conversations_closed         of those, closed now
--   median_time_to_admin_reply   seconds
--   median_time_to_first_close   seconds
--   reopened                     count_reopens > 0
--   rated, mean_rating           rated conversations and their mean rating (1–5)
SELECT
    CAST(created_at AS DATE) AS day,
    admin_assignee_id,
    any_value(admin_assignee_name) AS admin_assignee_name,
    -- include: measures.sql
FROM current_conversations
GROUP BY day, admin_assignee_id
ORDER BY day, admin_assignee_id NULLS LAST
