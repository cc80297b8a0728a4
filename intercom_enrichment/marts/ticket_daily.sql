-- ticket_daily: tickets per UTC day of creation and ticket type, over the current state of
-- every ticket (current_tickets). Definitions: docs/data-contract.md.
--
-- Columns:
--   day                         UTC date of created_at
--   ticket_type_id              the ticket's type (null: none)
--   ticket_type_name            its name as the tickets carry it (the greatest, if they differ)
--   tickets_created             tickets created that day, of that type
--   tickets_resolved            of those, resolved now (ticket_state_category = 'resolved')
--   tickets_open                of those, open now (open)
--   median_time_to_resolution   median seconds from created_at to first_resolved_at, over the
--                               tickets whose fetched parts show a resolution (null: none)
SELECT
    CAST(created_at AS DATE) AS day,
    ticket_type_id,
    max(ticket_type_name) AS ticket_type_name,  -- one name even if versions differ
    count(*) AS tickets_created,
    count(*) FILTER (WHERE ticket_state_category = 'resolved') AS tickets_resolved,
    count(*) FILTER (WHERE open) AS tickets_open,
    quantile_cont(epoch(first_resolved_at) - epoch(created_at), 0.5)
        AS median_time_to_resolution
FROM current_tickets
GROUP BY day, ticket_type_id
ORDER BY day, ticket_type_id NULLS LAST
