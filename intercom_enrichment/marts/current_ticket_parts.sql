-- current_ticket_parts: the parts of each ticket's latest fetched version, one row per part id.
--
-- Inputs: previous_ticket_parts (current/ticket_parts rows of the months being refreshed),
-- new_ticket_parts and new_tickets (rows of the window files folded in by this refresh),
-- current_tickets (the refreshed months' current rows, staged just before).
--
-- Columns: every column of the window table `ticket_parts`, plus
--   ticket_updated_at  updated_at of the ticket row fetched with these parts
--   created_month      the partition: the month of the ticket's current row (current/tickets)
--
-- The rule of current_conversation_parts.sql: the greatest (ticket_updated_at, extracted_at,
-- window) of a window that fetched parts wins, whole; windows run without parts keep the
-- parts of the last run with them; parts of a ticket with no current row are dropped.
WITH new_versions AS (
    SELECT
        parts.*,
        tickets.updated_at AS ticket_updated_at
    FROM new_ticket_parts AS parts
    JOIN new_tickets AS tickets
        USING (ticket_id, window_start, window_end)
),
candidates AS (
    SELECT * EXCLUDE (created_month) FROM previous_ticket_parts
    UNION ALL BY NAME
    SELECT * FROM new_versions
),
latest_version AS (
    SELECT *
    FROM candidates
    QUALIFY dense_rank() OVER (
        PARTITION BY ticket_id
        ORDER BY ticket_updated_at DESC, extracted_at DESC, window_start DESC, window_end DESC
    ) = 1
)
SELECT latest_version.*, current_tickets.created_month
FROM latest_version
JOIN current_tickets USING (ticket_id)
QUALIFY row_number() OVER (
    PARTITION BY ticket_id, part_id ORDER BY latest_version.created_at DESC
) = 1
ORDER BY ticket_id, latest_version.created_at, part_id
