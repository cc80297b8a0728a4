"""Intercom conversations enriched with their contacts, written as Parquet.

Plain Python, no Prefect imports: the client, models, windows, row shaping and the writer live
here; the Prefect layer (``flows/``, ``tasks/``) adapts them.
"""

__version__ = "0.1.0"
