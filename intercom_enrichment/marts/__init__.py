"""Current state and support metrics over the window files: ``current/`` and ``marts/``.

The models are the ``.sql`` files of this package, one per table, each with a header that
defines its columns; ``runner.py`` runs them with DuckDB, ``staging.py`` publishes the results
atomically, ``report.py`` renders the recent days of ``support_daily``. Imports nothing from
Prefect.
"""

from .report import report, support_daily_markdown, support_daily_rows
from .runner import RefreshResult, refresh

__all__ = ["RefreshResult", "refresh", "report", "support_daily_markdown", "support_daily_rows"]
