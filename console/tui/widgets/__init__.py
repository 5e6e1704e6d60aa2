"""The TUI's widgets, one per module; each formats values it is given and never does IO."""
