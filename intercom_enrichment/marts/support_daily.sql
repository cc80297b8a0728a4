-- support_daily: support volume, speed and quality per UTC day of conversation creation,
-- over the current state of every conversation (current_conversations).
-- Definitions (formula, unit, comparison with fivetran/dbt_intercom): docs/data-contract.md.
--
-- Columns:
--   day                          UTC date of created_at
--   conversations_created        conversations created that day
--   conversations_closed         of those, how many are closed now (state = 'closed')
--   median_time_to_admin_reply   median of statistics.time_to_admin_reply, seconds
--   p90_time_to_admin_reply      90th percentile (interpolated) of the same, seconds
--   median_time_to_first_close   median of statistics.time_to_first_close, seconds
--   reopened                     conversations reopened at least once (count_reopens > 0)
--   rated                        conversations with a rating
--   mean_rating                  mean rating (1–5) of the rated ones
--   ai_agent_share               share (0–1) of conversations with ai_agent_participated
--   fin_participated             conversations Fin took part in (ai_agent_participated)
--   fin_resolved                 of those, resolved by Fin: ai_agent_resolution_state
--                                assumed_resolution or confirmed_resolution
--   fin_resolution_rate          fin_resolved / fin_participated (null when Fin took part in none)
-- The measures shared with admin_daily, team_daily and tag_daily are measures.sql's, named
-- there `conversations` (here `conversations_created`).
SELECT
    day,
    conversations AS conversations_created,
    conversations_closed,
    median_time_to_admin_reply,
    p90_time_to_admin_reply,
    median_time_to_first_close,
    reopened,
    rated,
    mean_rating,
    ai_agent_share,
    fin_participated,
    fin_resolved,
    fin_resolved / nullif(fin_participated, 0) AS fin_resolution_rate
FROM (
    SELECT
        CAST(created_at AS DATE) AS day,
        quantile_cont(time_to_admin_reply, 0.9) AS p90_time_to_admin_reply,
        avg(CASE WHEN ai_agent_participated THEN 1.0 ELSE 0.0 END) AS ai_agent_share,
        count(*) FILTER (WHERE ai_agent_participated) AS fin_participated,
        count(*) FILTER (
            WHERE ai_agent_participated
            AND ai_agent_resolution_state IN ('assumed_resolution', 'confirmed_resolution')
        ) AS fin_resolved,
        -- include: measures.sql
    FROM current_conversations
    GROUP BY day
)
ORDER BY day
