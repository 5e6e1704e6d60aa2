"""The local DR lab: three "data centres" of real servers on loopback, for demos and tests.

``drconsole lab up`` starts, as one unprivileged user and under one directory, an sshd per
site, a PostgreSQL primary and streaming standby, a MariaDB primary and GTID replica, a Redis
primary and replica, and a dr site for backups, then writes the inventory the rest of
drconsole reads. Entry points: :class:`console.lab.lab.Lab` (Python) and
:func:`console.lab.commands.main` (CLI). Nothing here imports the TUI.
"""
