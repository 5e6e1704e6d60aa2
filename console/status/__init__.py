"""Replication status per site: collected by fan-out over the SSH pool, shown by the CLI and
the TUI. One sample per member flows one way: pool -> probe parser -> snapshot -> views."""
