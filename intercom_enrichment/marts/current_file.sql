-- The current state of an object kept in one file ($table): one row per $key, in its latest
-- known state. current/contacts and current/companies are this model (objects: CurrentState).
--
-- Inputs: previous_$table (current/$table.parquet), new_$table (rows of the window files
-- folded in by this refresh).
--
-- Columns: exactly the columns of the window table `$table` (docs/data-contract.md).
--
-- Latest = greatest updated_at (a row without updated_at counts as oldest); ties: greatest
-- extracted_at, then the later window (start, then end), then the newly folded row. Order
-- independent, like current_partitioned.sql. Only the ids the new windows mention are
-- compared; every other row of previous_$table is copied through unchanged, so an hourly
-- refresh streams the file once instead of re-ranking every row.
WITH touched AS (  -- new ids already in previous_$table (none on a first or full refresh)
    SELECT DISTINCT $key FROM new_$table SEMI JOIN previous_$table USING ($key)
),
candidates AS (
    SELECT previous_$table.*, false AS folded_now
    FROM previous_$table SEMI JOIN touched USING ($key)
    UNION ALL BY NAME
    SELECT *, true AS folded_now FROM new_$table
),
versioned AS NOT MATERIALIZED (  -- scanned twice: cheaper than holding it
    SELECT *, (coalesce(updated_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), extracted_at,
               window_start, window_end, folded_now) AS version
    FROM candidates
),
latest_versions AS (
    SELECT $key, max(version) AS version FROM versioned GROUP BY $key
)
SELECT previous_$table.*
FROM previous_$table ANTI JOIN touched USING ($key)
UNION ALL BY NAME
SELECT versioned.* EXCLUDE (folded_now, version)
FROM versioned
JOIN latest_versions USING ($key, version)
