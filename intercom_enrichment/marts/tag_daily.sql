-- tag_daily: support_daily's measures per UTC day of creation and tag name, over the tags a
-- conversation carries now (tag_names). A conversation with two tags counts under both (a tag
-- listed twice, once); one without tags under none. Definitions: docs/data-contract.md.
--
-- Columns:
--   day                          UTC date of created_at
--   tag_name                     a tag on the conversation now
--   conversations                conversations created that day carrying this tag now
--   conversations_closed         of those, closed now
--   median_time_to_admin_reply   seconds
--   median_time_to_first_close   seconds
--   reopened                     count_reopens > 0
--   rated, mean_rating           rated conversations and their mean rating (1–5)
WITH tagged AS (
    SELECT *, unnest(list_distinct(tag_names)) AS tag_name
    FROM current_conversations
)
SELECT
    CAST(created_at AS DATE) AS day,
    tag_name,
    -- include: measures.sql
FROM tagged
GROUP BY day, tag_name
ORDER BY day, tag_name
