"""Notifications: tell the people who watch a drill where they already look.

A run (and ``status --watch``) sends short messages through apprise URLs (Slack, Teams, Matrix,
mail, a generic JSON webhook...) named by the inventory's ``notify:`` and ``--notify URL``:
run started, a step failed or waits for a person, run finished, a service degraded. Sending
never blocks a step: messages go through one background queue, each with a timeout, and a
message that cannot be delivered is a warning and a ``notification_failed`` audit event, never
an error of the run. URLs are shown and recorded with their secrets masked.

The package sits beside the engine: ``targets`` (parse, check, mask a URL), ``messages`` (the
words, from events; pure), ``sender`` (the queue and apprise), ``run`` (what a run wires in).
"""
