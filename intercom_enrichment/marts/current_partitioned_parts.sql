-- The parts of each object's latest fetched version ($parts of $table), one row per part id.
-- current_conversation_parts and current_ticket_parts are this model (objects: CurrentState).
--
-- Inputs: previous_$parts (current/$parts rows of the months being refreshed), new_$parts and
-- new_$table (rows of the window files folded in by this refresh), current_$table (the
-- refreshed months' current rows, staged just before).
--
-- Columns: every column of the window table `$parts`, plus
--   $version  updated_at of the $table row fetched with these parts
--   created_month  the partition: the month of the object's current row (current/$table), so
--                  an object and its parts always live in the same month
--
-- A version is the ($version, extracted_at, window) of a window that fetched parts; the
-- greatest wins, whole: parts of older versions are dropped, so a part deleted in Intercom
-- disappears once a later version is fetched. Windows run without parts bring no version, so
-- the parts of the last run with parts stay. Parts of an object that has no current row are
-- dropped.
WITH new_versions AS (
    SELECT
        parts.*,
        objects.updated_at AS $version
    FROM new_$parts AS parts
    JOIN new_$table AS objects
        USING ($key, window_start, window_end)
),
candidates AS (
    SELECT * EXCLUDE (created_month) FROM previous_$parts
    UNION ALL BY NAME
    SELECT * FROM new_versions
),
latest_version AS (
    SELECT *
    FROM candidates
    QUALIFY dense_rank() OVER (
        PARTITION BY $key
        ORDER BY $version DESC, extracted_at DESC, window_start DESC, window_end DESC
    ) = 1
)
SELECT latest_version.*, current_$table.created_month
FROM latest_version
JOIN current_$table USING ($key)
QUALIFY row_number() OVER (
    PARTITION BY $key, part_id ORDER BY latest_version.created_at DESC
) = 1
ORDER BY $key, latest_version.created_at, part_id  -- the same rows, the same files
