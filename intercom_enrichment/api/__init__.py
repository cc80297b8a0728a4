"""The Intercom REST API client: settings, requests, the rate budget, pages and response shapes.

Endpoint facts with their sources: docs/intercom-api.md.
"""
