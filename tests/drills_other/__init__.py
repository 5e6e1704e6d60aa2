"""Drills for MariaDB and Redis (failover, failback, restore verification) against the real lab."""
