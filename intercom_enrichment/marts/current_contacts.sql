-- current_contacts: one row per contact id, in its latest known state.
--
-- Inputs: previous_contacts (current/contacts.parquet), new_contacts (rows of the window
-- files folded in by this refresh).
--
-- Columns: exactly the columns of the window table `contacts` (docs/data-contract.md).
--
-- Latest = greatest updated_at (a contact without updated_at counts as oldest); ties:
-- greatest extracted_at, then the later window. Order independent, like current_conversations.
SELECT *
FROM (
    SELECT * FROM previous_contacts
    UNION ALL BY NAME
    SELECT * FROM new_contacts
)
QUALIFY row_number() OVER (
    PARTITION BY contact_id
    ORDER BY updated_at DESC NULLS LAST, extracted_at DESC, window_start DESC
) = 1
