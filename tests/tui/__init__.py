"""Tests of the TUI: pure formatting, Pilot flows against a real lab, SVG snapshots."""
