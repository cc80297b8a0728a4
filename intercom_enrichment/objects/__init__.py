"""The Intercom objects the tool reads: pydantic models, rows and the tables' schemas."""
