"""The managed tests share one ``managed`` lab (etcd, Patroni, Sentinel) for the package.

Bringing it up costs about 25 s and taking it down about 10 s, so every module under
``tests/managed`` uses the same one; a test that changes it (a switchover, a dark site, a
paused cluster) puts it back before it ends.
"""

from tests.support.lab import profile_lab

managed = profile_lab("managed", scope="package")
