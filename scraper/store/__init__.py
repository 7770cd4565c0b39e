"""Storage: the raw archive, and write-once versioned Parquet snapshots."""
