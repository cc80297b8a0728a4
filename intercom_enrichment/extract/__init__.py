"""One window's extraction: listing, spilling, batching, enrichment and the pipeline that runs
them (``pipeline.run_pipeline``)."""
