"""SQLite storage: one file in WAL mode, numbered migrations, per-feature repositories."""
