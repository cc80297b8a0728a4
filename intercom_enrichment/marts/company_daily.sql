-- company_daily: support measures per UTC day of conversation creation and company, over the
-- current state of every conversation (current_conversations). A conversation counts once for
-- each company of its primary contact (contact_company_ids, complete unless the contact's
-- companies_truncated); conversations whose contact has no company are in no row. The
-- refresh adds company_name from current/companies on every refresh (objects: Mart.names), so
-- a renamed company has its current name in every row. Definitions: docs/data-contract.md.
--
-- Columns:
--   day                          UTC date of created_at
--   company_id                   Intercom's id of the company
--   conversations                conversations created that day by a contact of the company
--   conversations_closed         of those, closed now
--   median_time_to_admin_reply   median first reply (statistics.time_to_admin_reply), seconds
--   median_time_to_first_close   median statistics.time_to_first_close, seconds
--   rated                        of those, rated
--   mean_rating                  mean rating (1–5)
--   csat                         share (0–1) of the rated ones rated 4 or 5 (null: none rated)
--   company_name                 current/companies' name (null: company not read)
WITH attributed AS (
    SELECT *, unnest(list_distinct(contact_company_ids)) AS company_id
    FROM current_conversations
)
SELECT
    CAST(created_at AS DATE) AS day,
    company_id,
    count(*) AS conversations,
    count(*) FILTER (WHERE state = 'closed') AS conversations_closed,
    quantile_cont(time_to_admin_reply, 0.5) AS median_time_to_admin_reply,
    quantile_cont(time_to_first_close, 0.5) AS median_time_to_first_close,
    count(rating) AS rated,
    avg(rating) AS mean_rating,
    avg(CASE WHEN rating >= 4 THEN 1.0 WHEN rating IS NOT NULL THEN 0.0 END) AS csat
FROM attributed
GROUP BY day, company_id
ORDER BY day, company_id
