"""Data sources: where the rows come from, read when a run opens them."""
