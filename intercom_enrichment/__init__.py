"""Intercom conversations and tickets, joined with their contacts, companies, teammates and
statistics, written as Parquet.

Plain Python, no Prefect imports: the client, models, windows, row shaping and the writer live
here; the Prefect layer (``flows/``, ``tasks/``) adapts them.
"""

import os

# Arrow allocates with glibc's malloc unless the environment chose a pool: read once, when
# pyarrow loads, so it is set here, before any module of the package imports pyarrow
# (memory.py says why).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

__version__ = "0.1.0"
