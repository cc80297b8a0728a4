-- current_conversation_parts: the parts of each conversation's latest fetched version, one
-- row per part id.
--
-- Inputs: previous_conversation_parts (current/conversation_parts rows of the months being
-- refreshed), new_conversation_parts and new_conversations (rows of the window files folded in
-- by this refresh), current_conversations (the refreshed months' current rows, staged just
-- before).
--
-- Columns: every column of the window table `conversation_parts`, plus
--   conversation_updated_at  updated_at of the conversation row fetched with these parts
--   created_month            the partition: the month of the conversation's current row
--                            (current/conversations), so a conversation and its parts always
--                            live in the same month
--
-- A version is the (conversation_updated_at, extracted_at, window) of a window that fetched
-- parts; the greatest wins, whole: parts of older versions are dropped, so a part deleted in
-- Intercom disappears once a later version is fetched. Windows run without parts bring no
-- version, so the parts of the last run with parts stay. Parts of a conversation that has no
-- current row are dropped.
WITH new_versions AS (
    SELECT
        parts.*,
        conversations.updated_at AS conversation_updated_at
    FROM new_conversation_parts AS parts
    JOIN new_conversations AS conversations
        USING (conversation_id, window_start, window_end)
),
candidates AS (
    SELECT * EXCLUDE (created_month) FROM previous_conversation_parts
    UNION ALL BY NAME
    SELECT * FROM new_versions
),
latest_version AS (
    SELECT *
    FROM candidates
    QUALIFY dense_rank() OVER (
        PARTITION BY conversation_id
        ORDER BY conversation_updated_at DESC, extracted_at DESC, window_start DESC,
            window_end DESC
    ) = 1
)
SELECT latest_version.*, current_conversations.created_month
FROM latest_version
JOIN current_conversations USING (conversation_id)
QUALIFY row_number() OVER (
    PARTITION BY conversation_id, part_id ORDER BY latest_version.created_at DESC
) = 1
ORDER BY conversation_id, latest_version.created_at, part_id  -- the same rows, the same files
