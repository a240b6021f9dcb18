"""The nurture engine: domain core, track DSL, Temporal runtime, storage and mail."""
