"""The recoverable-window probe's parser, on pgBackRest output recorded from the real lab.

``data/window/*.out`` is what :func:`console.probes.window.repo_command` printed on the lab's
dr host (pgBackRest 2.45): ``healthy`` with every WAL segment in the archive, ``gap`` after
segment ...0B was moved out of the repository, ``no-stanza`` for a stanza that does not exist.
The archiver cases are the primary's ``pg_stat_archiver`` object as :data:`ARCHIVER_SQL` builds it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.errors import Location
from console.model.backup import BackupSettings
from console.probes.window import (
    MARK,
    RecoveryWindow,
    WindowHealth,
    parse,
    parse_archiver,
    repo_command,
)

DATA = Path(__file__).parent / "data" / "window"
BACKUP = BackupSettings(
    "pgbackrest", "orders-db", "lab-dr", "/etc/pgbackrest.conf", Location("inv.yaml", 1, 1)
)
NOW = 1796307600.0


def _parse(name: str, archiver: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return parse(BACKUP, "orders-db", 0, (DATA / name).read_text(), "", NOW, archiver)


def test_the_command_asks_info_and_the_archive_listing_read_only() -> None:
    cmd = repo_command(BACKUP, 5)
    assert "--config=/etc/pgbackrest.conf --stanza=orders-db --output=json info" in cmd
    assert "repo-ls --recurse archive/orders-db" in cmd
    assert cmd.count("timeout 5 ") == 2
    for word in ("backup ", "expire", "stanza-delete", "archive-push", "restore"):
        assert word not in cmd


def test_a_healthy_archive_gives_the_window_from_the_oldest_backup_to_the_newest_wal() -> None:
    w = _parse("healthy.out")
    assert w.health is WindowHealth.OK, w.reason
    assert w.oldest_backup == "20261203-140149F" and w.backups == 1
    assert w.oldest == 1796306525.0  # the backup's timestamp.stop
    assert w.newest_wal == "00000001000000000000000D" and w.gap is None
    assert w.newest is not None and w.newest > w.oldest
    assert w.age(NOW) == pytest.approx(NOW - w.newest)
    assert json.dumps(w.to_json(NOW))  # plain JSON values


def test_a_missing_segment_is_crit_and_the_window_stops_before_it() -> None:
    w = _parse("gap.out")
    assert w.health is WindowHealth.CRIT
    assert w.gap == "00000001000000000000000B"
    assert w.newest_wal == "00000001000000000000000A"
    assert "WAL gap: segment 00000001000000000000000B is missing" in w.reason
    healthy = _parse("healthy.out")
    assert w.newest is not None and healthy.newest is not None and w.newest < healthy.newest


def test_a_missing_stanza_is_crit_with_pgbackrests_reason() -> None:
    w = _parse("no-stanza.out")
    assert w.health is WindowHealth.CRIT
    assert "missing stanza path" in w.reason
    assert w.oldest is None and w.newest is None


def test_no_answer_is_unknown_never_ok() -> None:
    w = parse(BACKUP, "orders-db", None, "", "ssh: connect timed out", NOW)
    assert w.health is WindowHealth.UNKNOWN and "connect timed out" in w.reason
    w = parse(BACKUP, "orders-db", 127, "", "sh: 1: pgbackrest: not found", NOW)
    assert w.health is WindowHealth.UNKNOWN and "not found" in w.reason


def test_no_usable_backup_is_crit() -> None:
    text = (DATA / "healthy.out").read_text()
    info, rest = text.split(MARK, 1)
    data = json.loads(info)
    for b in data[0]["backup"]:
        b["error"] = True
    w = parse(BACKUP, "orders-db", 0, json.dumps(data) + MARK + rest, "", NOW)
    assert w.health is WindowHealth.CRIT and "no usable backup" in w.reason


@pytest.mark.parametrize(
    ("archiver", "health", "words"),
    [
        ({"archived": 100.0, "failed": None, "archive_mode": "on"}, WindowHealth.OK, ""),
        ({"archived": 100.0, "failed": 90.0, "archive_mode": "on"}, WindowHealth.OK, ""),
        (
            {
                "archived": 100.0,
                "failed": 110.0,
                "failed_wal": "0000000100000000000000AB",
                "failures": 3,
                "archive_mode": "on",
            },
            WindowHealth.CRIT,
            "archive_command is failing on the primary (WAL 0000000100000000000000AB, 3",
        ),
        ({"archived": None, "failed": 5.0, "archive_mode": "on"}, WindowHealth.CRIT, "failing"),
        ({"archive_mode": "off"}, WindowHealth.CRIT, "archive_mode is off"),
        ({}, WindowHealth.OK, ""),
    ],
)
def test_the_primarys_archiver_is_judged(
    archiver: dict[str, object], health: WindowHealth, words: str
) -> None:
    w = _parse("healthy.out", archiver)
    assert w.health is health, w.reason
    assert words in w.reason


def test_the_archiver_line_is_read_only_from_a_clean_answer() -> None:
    assert parse_archiver(0, '{"archived": 1.5, "failed": null}\n') == {
        "archived": 1.5,
        "failed": None,
    }
    assert parse_archiver(2, '{"archived": 1.5}') == {}
    assert parse_archiver(0, "psql: error") == {}
    assert parse_archiver(0, "{not json") == {}


MARIA = BackupSettings(
    "mariadb-backup", None, "lab-dr", None, Location("inv.yaml", 1, 1), "/srv/catalog-db-base"
)
MARIA_OUT = f"binlog.000001\t531760\t0-1-7\n{MARK}\n1796309174\n"


def test_mariadb_window_from_the_base_backup_and_the_primarys_binlogs() -> None:
    from console.probes.window import maria_repo_command, parse_binlogs, parse_maria

    cmd = maria_repo_command(MARIA)
    assert "/srv/catalog-db-base/xtrabackup_binlog_info" in cmd and "stat -c %Y" in cmd
    listed = parse_binlogs(0, "binlog.000001\t531760\nbinlog.000002\t379\n")
    assert listed == ["binlog.000001", "binlog.000002"]
    assert parse_binlogs(1, "ERROR 1045") is None
    ok = parse_maria(MARIA, "catalog-db", 0, MARIA_OUT, "", NOW, listed)
    assert ok.health is WindowHealth.OK and ok.oldest == 1796309174.0
    assert ok.oldest_backup == "binlog.000001:531760 (GTID 0-1-7)"
    assert ok.newest_wal == "binlog.000002"
    purged = parse_maria(MARIA, "catalog-db", 0, MARIA_OUT, "", NOW, ["binlog.000002"])
    assert purged.health is WindowHealth.CRIT
    assert "binlogs purged past the base backup: binlog.000001" in purged.reason
    missing = parse_maria(MARIA, "catalog-db", 1, "", "cat: ...: No such file", NOW, listed)
    assert missing.health is WindowHealth.CRIT and "no prepared base backup" in missing.reason
    silent = parse_maria(MARIA, "catalog-db", 0, MARIA_OUT, "", NOW, None)
    assert silent.health is WindowHealth.UNKNOWN


REDIS = BackupSettings("redis-aof", None, "lab-dr", None, Location("inv.yaml", 1, 1))


def test_redis_window_from_the_aof_timestamps() -> None:
    from console.probes.window import aof_command, parse_aof

    cmd = aof_command("redis-cli -h 127.0.0.1 -p 6379")
    assert "CONFIG GET dir appenddirname appendonly" in cmd and "#TS:" in cmd
    assert "tac " in cmd  # the last annotation is read from the end, never the whole file
    ok = parse_aof(REDIS, "sessions", 0, "aof yes\nts 1796308574 1796308591\n", NOW)
    assert ok.health is WindowHealth.OK
    assert (ok.oldest, ok.newest) == (1796308574.0, 1796308591.0)
    off = parse_aof(REDIS, "sessions", 0, "aof no\n", NOW)
    assert off.health is WindowHealth.CRIT and "appendonly is off" in off.reason
    dark = parse_aof(REDIS, "sessions", None, "", NOW)
    assert dark.health is WindowHealth.UNKNOWN


def test_a_quiet_redis_after_a_rewrite_is_recoverable_and_untimed_writes_are_not() -> None:
    """Recorded on the lab's east Redis (``aof_command`` run as the lab user): just after a
    rewrite the increment is empty, so there is no ``#TS:`` yet, and none is needed (every
    point since holds the base's data) — it was shown CRIT "aof-timestamp-enabled is off"
    while the setting was on. A write with the setting off, and the same AOF after the
    setting is turned back on, cannot be cut at a time: CRIT, each with its own reason."""
    from console.probes.window import parse_aof

    def parsed(name: str) -> RecoveryWindow:
        return parse_aof(REDIS, "sessions", 0, (DATA / f"aof-{name}.out").read_text(), NOW)

    quiet = parsed("quiet")
    assert quiet.health is WindowHealth.OK, quiet.reason
    assert (quiet.oldest, quiet.newest) == (1796346919.0, NOW)
    assert quiet.oldest_backup == "last AOF rewrite"
    off = parsed("tsoff")
    assert off.health is WindowHealth.CRIT and "aof-timestamp-enabled is off" in off.reason
    untimed = parsed("untimed")
    assert untimed.health is WindowHealth.CRIT
    assert "written since the last rewrite has no timestamp annotations" in untimed.reason
    timed = parsed("timed")
    assert timed.health is WindowHealth.OK
    assert (timed.oldest, timed.newest) == (1796347273.0, 1796347273.0)


# -- the repository's files read directly (a POSIX repository: no pgBackRest start-up) --------
# ``files-healthy.out`` is what :func:`repo_command` printed on the lab's dr host (pgBackRest
# 2.45 repository: backup.info, archive.info, the archive's listing with mtimes);
# ``files-gap.out`` is the same with segment ...0B's line removed.


def test_the_command_reads_a_posix_repositorys_files_and_falls_back_to_pgbackrest() -> None:
    from console.probes.window import FILES

    cmd = repo_command(BACKUP, 5)
    assert "c=/etc/pgbackrest.conf;" in cmd and f"echo {FILES};" in cmd
    assert '/backup/"orders-db/backup.info' in cmd and '/archive/"orders-db/archive.info' in cmd
    assert "find \"$p/archive/\"orders-db -type f -printf '%P %T@\\n'" in cmd
    # object storage or encryption: pgBackRest itself is asked
    assert "repo1-type" in cmd and "repo1-cipher-type" in cmd
    assert "else d=$(mktemp -d)" in cmd and "--output=json info" in cmd


def test_the_files_give_the_same_window_as_pgbackrest() -> None:
    w = _parse("files-healthy.out")
    assert w.health is WindowHealth.OK, w.reason
    assert w.oldest_backup == "20261203-171049F" == w.newest_backup and w.backups == 1
    assert w.oldest == 1796317851.0  # backup-timestamp-stop
    assert w.newest_wal == "000000010000000000000017" and w.gap is None
    assert w.newest == 1796319055.7062452  # that segment's mtime


def test_a_segment_missing_from_the_files_is_a_gap() -> None:
    w = _parse("files-gap.out")
    assert w.health is WindowHealth.CRIT and w.gap == "00000001000000000000000B"
    assert w.newest_wal == "00000001000000000000000A"


def test_no_backup_info_is_a_missing_stanza_and_no_answer_is_unknown() -> None:
    from console.probes.window import FILES

    missing = parse(BACKUP, "orders-db", 0, f"{FILES}\n{MARK}\n{MARK}\n{MARK}0\n", "", NOW)
    assert missing.health is WindowHealth.CRIT
    assert "no backup.info for orders-db" in missing.reason
    cut = parse(BACKUP, "orders-db", None, f"{FILES}\n[backrest]\n", "timed out", NOW)
    assert cut.health is WindowHealth.UNKNOWN and "timed out" in cut.reason


def test_from_files_skips_what_it_cannot_read() -> None:
    from console.probes.window import from_files

    info, listing = from_files(
        "[backup:current]\nbroken={not json\n20261203-000000F="
        '{"backup-timestamp-stop":5,"backup-archive-start":"000000010000000000000001"}\n'
        "[db]\ndb-id=2\n",
        '[db]\ndb-id=2\ndb-version="16"\n',
        "16-2/0000000100000000/x 12.5\nnot a line\n",
        "s",
    )
    assert [b["label"] for b in info[0]["backup"]] == ["20261203-000000F"]
    assert info[0]["archive"] == [{"id": "16-2"}]
    assert listing == {"16-2/0000000100000000/x": {"type": "file", "time": 12.5}}


def test_a_gap_behind_a_newer_backup_only_cuts_the_older_backups_reach() -> None:
    # files-gap.out lacks ...0B; a second (incremental) backup starting at ...0D recovers past it
    text = (DATA / "files-gap.out").read_text()
    newer = (
        '20261203-171049F_20261203-172000I={"backup-archive-start":"00000001000000000000000D",'
        '"backup-archive-stop":"00000001000000000000000D","backup-error":false,'
        '"backup-timestamp-start":1796318400,"backup-timestamp-stop":1796318402,'
        '"backup-type":"incr"}'
    )
    text = text.replace("[backup:current]\n", f"[backup:current]\n{newer}\n", 1)
    w = parse(BACKUP, "orders-db", 0, text, "", NOW)
    assert w.health is WindowHealth.WARN, w.reason
    assert w.gap == "00000001000000000000000B" and w.backups == 2
    assert w.newest_wal == "000000010000000000000017"
    assert "points before the end of backup 20261203-171049F_20261203-172000I" in w.reason
    # the same gap with the newer backup starting before it stays CRIT
    before = text.replace(
        '"backup-archive-start":"00000001000000000000000D"',
        '"backup-archive-start":"00000001000000000000000A"',
    )
    assert parse(BACKUP, "orders-db", 0, before, "", NOW).health is WindowHealth.CRIT


# -- a Redis AOF read once, then asked through its primary's INFO ----------------------------
# Recorded on the lab's east Redis (7.0.15, as the lab user): ``aof-cold.out`` is
# :func:`aof_command`; ``aof-files-full.out`` :func:`aof_files_command` with nothing cached (the
# increment read from its end); ``aof-files-tail.out`` the same from the cached size after two
# writes a second apart; ``aof-files-tail-quiet.out`` from a size taken between two writes in
# one second (the bytes read hold no annotation); ``aof-info-riding.out`` the Redis probe's
# ``command_riding`` with ``INFO persistence server``.


def test_an_aof_read_once_is_kept_and_rescanned_from_where_it_stopped() -> None:
    from console.probes.window import aof_files_command, aof_rescanned, aof_seen, parse_aof

    cold = (DATA / "aof-cold.out").read_text()
    seen = aof_seen(cold, NOW)
    assert seen is not None and seen.aofdir == "/tmp/h13-lab/east/redis/appendonlydir"
    assert (seen.first, seen.last, seen.tsconf, seen.incr) == (
        "1796357173",
        "1796357173",
        "yes",
        None,
    )
    # what is kept parses to the same window as the command's own output
    assert parse_aof(REDIS, "sessions", 0, seen.output(), NOW) == parse_aof(
        REDIS, "sessions", 0, cold, NOW
    )
    assert "tac " in aof_files_command(seen.aofdir, None, None)  # nothing cached: from the end
    full = aof_rescanned(seen, (DATA / "aof-files-full.out").read_text(), ("k",))
    assert full is not None and (full.incr, full.offset) == ("appendonly.aof.1.incr.aof", 1305713)
    assert full.key == ("k",) and full.last == "1796357173"
    tail_cmd = aof_files_command(full.aofdir, full.incr, full.offset)
    assert f"tail -c +{1305713 - 64 + 1} " in tail_cmd and "appendonly.aof.1.incr.aof" in tail_cmd
    grown = aof_rescanned(full, (DATA / "aof-files-tail.out").read_text(), ("k2",))
    assert grown is not None and (grown.first, grown.last) == ("1796357173", "1796357797")
    assert grown.offset == 1305819 and grown.key == ("k2",)
    w = parse_aof(REDIS, "sessions", 0, grown.output(), NOW)
    assert w.health is WindowHealth.OK and (w.oldest, w.newest) == (1796357173.0, 1796357797.0)
    # bytes without an annotation: the last one found before stands
    quiet = aof_rescanned(grown, (DATA / "aof-files-tail-quiet.out").read_text(), ("k3",))
    assert quiet is not None and quiet.last == "1796357797" and quiet.offset == 1306499
    # a full read that finds none has none (nothing to keep from before)
    assert aof_rescanned(grown, "ts 1796357173 \nincr f 10 full\n", None).last == ""  # type: ignore[union-attr]
    # the manifest gone, or output cut: None (the caller reads everything again)
    assert aof_rescanned(grown, "gone\n", None) is None
    assert aof_rescanned(grown, "ts 1 2\n", None) is None
    assert aof_seen("aof no\ntsconf yes\n", NOW) is None
    # appendonly turned off: what is kept says so, and the window is CRIT
    off = parse_aof(REDIS, "sessions", 0, grown.output("no"), NOW)
    assert off.health is WindowHealth.CRIT and "appendonly is off" in off.reason


def test_the_redis_probe_asks_info_sections_in_its_own_call() -> None:
    from console.probes.redis import RedisProbe, info_fields
    from console.probes.riders import split_ride
    from console.probes.sample import ProbeTarget, Role
    from console.probes.window import AOF_INFO, aof_key

    target = ProbeTarget("sessions", "east", "lab-east", "redis", "127.0.0.1", 16379)
    probe = RedisProbe(timeout=5)
    cmd = probe.command_riding(target, [AOF_INFO])
    assert cmd is not None and cmd.count("redis-cli ") == 1
    assert "INFO replication persistence server" in cmd and cmd.endswith("exit $s")
    assert probe.command_riding(target, ["CONFIG GET dir"]) is None  # not an INFO: shell
    assert probe.command_riding(target, ["INFO persistence; FLUSHALL"]) is None
    assert probe.command_riding(target, []) is None
    out = (DATA / "aof-info-riding.out").read_text().splitlines()
    lines, (status, _), answers = split_ride(out, 1)
    assert status == 0 and answers[0][0] == 0
    sample = probe.parse(target, 0, "\n".join(lines), "", NOW)
    assert sample.role is Role.PRIMARY and sample.error is None and len(sample.replicas) == 1
    fields = info_fields(answers[0][1])
    assert fields["aof_enabled"] == "1"
    assert aof_key(fields) == ("842846704842382ad3e2ae9be1b5c4d60e1ff28a", "0", "1305819", "0")
    assert aof_key({"aof_enabled": "1"}) is None
