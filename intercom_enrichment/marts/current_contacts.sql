-- current_contacts: one row per contact id, in its latest known state.
--
-- Inputs: previous_contacts (current/contacts.parquet), new_contacts (rows of the window
-- files folded in by this refresh).
--
-- Columns: exactly the columns of the window table `contacts` (docs/data-contract.md).
--
-- Latest = greatest updated_at (a contact without updated_at counts as oldest); ties:
-- greatest extracted_at, then the later window (start, then end), then the newly folded row. Order independent,
-- like current_conversations. Only the contacts the new windows mention are compared; every
-- other row of previous_contacts is copied through unchanged, so an hourly refresh streams the
-- file once instead of re-ranking every contact.
WITH touched AS (  -- new ids already in previous_contacts (none on a first or full refresh)
    SELECT DISTINCT contact_id FROM new_contacts SEMI JOIN previous_contacts USING (contact_id)
),
candidates AS (
    SELECT previous_contacts.*, false AS folded_now
    FROM previous_contacts SEMI JOIN touched USING (contact_id)
    UNION ALL BY NAME
    SELECT *, true AS folded_now FROM new_contacts
),
versioned AS NOT MATERIALIZED (  -- scanned twice: cheaper than holding it
    SELECT *, (coalesce(updated_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), extracted_at,
               window_start, window_end, folded_now) AS version
    FROM candidates
),
latest_versions AS (
    SELECT contact_id, max(version) AS version FROM versioned GROUP BY contact_id
)
SELECT previous_contacts.*
FROM previous_contacts ANTI JOIN touched USING (contact_id)
UNION ALL BY NAME
SELECT versioned.* EXCLUDE (folded_now, version)
FROM versioned
JOIN latest_versions USING (contact_id, version)
