-- current_companies: one row per company id, in its latest known state.
--
-- Inputs: previous_companies (current/companies.parquet), new_companies (rows of the window
-- files folded in by this refresh).
--
-- Columns: exactly the columns of the window table `companies` (docs/data-contract.md).
--
-- Latest = greatest updated_at (a company without updated_at counts as oldest); ties:
-- greatest extracted_at, then the later window (start, then end), then the newly folded row —
-- the rule of current_contacts.sql. Only the companies the new windows mention are compared;
-- every other row of previous_companies is copied through unchanged.
WITH touched AS (  -- new ids already in previous_companies (none on a first or full refresh)
    SELECT DISTINCT company_id FROM new_companies SEMI JOIN previous_companies USING (company_id)
),
candidates AS (
    SELECT previous_companies.*, false AS folded_now
    FROM previous_companies SEMI JOIN touched USING (company_id)
    UNION ALL BY NAME
    SELECT *, true AS folded_now FROM new_companies
),
versioned AS NOT MATERIALIZED (  -- scanned twice: cheaper than holding it
    SELECT *, (coalesce(updated_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'), extracted_at,
               window_start, window_end, folded_now) AS version
    FROM candidates
),
latest_versions AS (
    SELECT company_id, max(version) AS version FROM versioned GROUP BY company_id
)
SELECT previous_companies.*
FROM previous_companies ANTI JOIN touched USING (company_id)
UNION ALL BY NAME
SELECT versioned.* EXCLUDE (folded_now, version)
FROM versioned
JOIN latest_versions USING (company_id, version)
