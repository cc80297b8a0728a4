"""Prefect flows: they orchestrate; the work is in ``intercom_enrichment``."""
