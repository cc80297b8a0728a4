-- measures: the support measures of admin_daily, team_daily and tag_daily, one definition.
-- Each of those models names this file on a line of its own (`-- include: measures.sql`);
-- runner.model_sql puts these lines there. Definitions: docs/data-contract.md.
--
--   conversations                conversations created that day in the row's group
--   conversations_closed         of those, closed now
--   median_time_to_admin_reply   seconds
--   median_time_to_first_close   seconds
--   reopened                     count_reopens > 0
--   rated, mean_rating           rated conversations and their mean rating (1–5)
    count(*) AS conversations,
    count(*) FILTER (WHERE state = 'closed') AS conversations_closed,
    quantile_cont(time_to_admin_reply, 0.5) AS median_time_to_admin_reply,
    quantile_cont(time_to_first_close, 0.5) AS median_time_to_first_close,
    count(*) FILTER (WHERE count_reopens > 0) AS reopened,
    count(rating) AS rated,
    avg(rating) AS mean_rating
