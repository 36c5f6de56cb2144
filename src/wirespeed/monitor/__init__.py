"""Watching a running host: every ring's writer and readers, for people (`top`)
and for machines (`metrics`, Prometheus). Read-only: nothing here slows a
writer or holds a count of its own."""
