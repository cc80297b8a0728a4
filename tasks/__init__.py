"""Thin Prefect tasks around the plain ``intercom_enrichment`` package."""
