"""Lab-server fixture (filled in by the lab work)."""
