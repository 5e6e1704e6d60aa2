"""drconsole tui package."""
