-- current_conversation_parts: the parts of each conversation's latest fetched version, one
-- row per part id.
--
-- Inputs: previous_parts (current/conversation_parts rows of the months being refreshed),
-- new_parts and new_conversations (rows of the window files folded in by this refresh).
--
-- Columns: every column of the window table `conversation_parts`, plus
--   conversation_updated_at  updated_at of the conversation row fetched with these parts
--   created_month            'YYYY-MM' of the conversation's created_at: the partition
--
-- A version is the (conversation_updated_at, extracted_at) of a window that fetched parts;
-- the greatest wins, whole: parts of older versions are dropped, so a part deleted in
-- Intercom disappears once a later version is fetched. Windows run without parts bring no
-- version, so the parts of the last run with parts stay.
WITH new_versions AS (
    SELECT
        parts.*,
        conversations.updated_at AS conversation_updated_at,
        strftime(conversations.created_at, '%Y-%m') AS created_month
    FROM new_parts AS parts
    JOIN new_conversations AS conversations
        USING (conversation_id, window_start, window_end)
),
candidates AS (
    SELECT * FROM previous_parts
    UNION ALL BY NAME
    SELECT * FROM new_versions
),
latest_version AS (
    SELECT *
    FROM candidates
    QUALIFY dense_rank() OVER (
        PARTITION BY conversation_id
        ORDER BY conversation_updated_at DESC, extracted_at DESC, window_start DESC
    ) = 1
)
SELECT *
FROM latest_version
QUALIFY row_number() OVER (PARTITION BY conversation_id, part_id ORDER BY created_at DESC) = 1
ORDER BY conversation_id, created_at, part_id  -- the same rows give the same files
