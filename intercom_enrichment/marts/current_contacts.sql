-- current_contacts: one row per contact id, in its latest known state.
--
-- Inputs: previous_contacts (current/contacts.parquet), new_contacts (rows of the window
-- files folded in by this refresh).
--
-- Columns: exactly the columns of the window table `contacts` (docs/data-contract.md).
--
-- Latest = greatest updated_at (a contact without updated_at counts as oldest); ties:
-- greatest extracted_at, then the later window, then the newly folded row. Order independent, like current_conversations.
WITH candidates AS (
    SELECT *, false AS folded_now FROM previous_contacts
    UNION ALL BY NAME
    SELECT *, true AS folded_now FROM new_contacts
),
versioned AS (
    SELECT *, (coalesce(updated_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), extracted_at,
               window_start, folded_now) AS version
    FROM candidates
),
latest_versions AS (
    SELECT contact_id, max(version) AS version FROM versioned GROUP BY contact_id
)
SELECT versioned.* EXCLUDE (folded_now, version)
FROM versioned
JOIN latest_versions USING (contact_id, version)
ORDER BY contact_id  -- the same rows give the same file
