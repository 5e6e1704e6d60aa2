"""The playbook both store-lost suites run (the audit engine's and the TUI's): a first command,
the step during which the test stops the team store's PostgreSQL for real, and a step that
must never run."""

PLAYBOOK = """
version: 1
name: store-lost
kind: custom
steps:
  - id: first
    on: h-east
    run: first-cmd
  - id: outage
    on: h-east
    run: store-goes-away
  - id: never
    on: h-west
    run: never-cmd
"""
