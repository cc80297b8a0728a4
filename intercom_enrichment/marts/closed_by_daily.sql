-- closed_by_daily: support_daily's measures per UTC day of creation and the teammate who last
-- closed the conversation (statistics.last_closed_by_id) — the grouping of fivetran/dbt_intercom's
-- intercom__admin_metrics; admin_daily groups by the current assignee instead.
-- Definitions: docs/data-contract.md. Conversations never closed form their own row (id null).
--
-- Columns:
--   day                          UTC date of created_at
--   last_closed_by_id            the teammate who last closed it (null: never closed)
--   last_closed_by_name          from dimensions/admins.parquet (null: unknown or never closed)
--   conversations                conversations created that day, last closed by this teammate
--   conversations_closed         of those, closed now
--   median_time_to_admin_reply   seconds
--   median_time_to_first_close   seconds
--   reopened                     count_reopens > 0
--   rated, mean_rating           rated conversations and their mean rating (1–5)
SELECT
    CAST(created_at AS DATE) AS day,
    last_closed_by_id,
    any_value(admins.name) AS last_closed_by_name,
    -- include: measures.sql
FROM current_conversations
LEFT JOIN admins ON admins.admin_id = current_conversations.last_closed_by_id
GROUP BY day, last_closed_by_id
ORDER BY day, last_closed_by_id NULLS LAST
