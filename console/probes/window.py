"""The recoverable window of a service's backups: how far back, and up to when, it can be recovered.

Replication copies a bad write everywhere within a second; only a backup plus the archived
log behind it can undo it. So the status sweep shows, next to replication, the window that a
point-in-time recovery can reach: from the oldest backup's end to the newest archived WAL,
how old the newest archived WAL is, and whether the archive is broken. A broken archive is a
finding with its reason, never silence: a WAL segment missing from the repository (recovery
cannot pass it), a stanza pgBackRest reports in error, no backup at all, or the primary's
``archive_command`` failing since its last success.

Like every probe, this module is pure: a command builder and a parser. The repository command
runs on the backup's ``repo_host`` and asks pgBackRest itself (``info`` and ``repo-ls`` of the
stanza's archive, JSON, both read-only and cheap); the archiver command runs on the observed
primary and reads ``pg_stat_archiver``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from console.model.backup import BackupSettings

MARK = "@@drconsole-window@@"
"""Separates the outputs of the repository command's two pgBackRest calls."""
_SEGMENT = re.compile(r"([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})-[0-9a-f]{40}")
SEGMENTS_PER_LOG = 0x100
"""WAL segments per log id with the default 16 MB segment size."""
ARCHIVER_SQL = (
    "SELECT json_build_object('archived', extract(epoch FROM last_archived_time), "
    "'archived_wal', last_archived_wal, 'failed', extract(epoch FROM last_failed_time), "
    "'failed_wal', last_failed_wal, 'failures', failed_count, "
    "'archive_mode', current_setting('archive_mode')) FROM pg_stat_archiver"
)
"""One JSON object: when the primary last archived and last failed to archive."""


class WindowHealth(StrEnum):
    """How usable the recoverable window is."""

    OK = "ok"
    WARN = "warn"
    CRIT = "crit"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RecoveryWindow:
    """What the repository (and the primary's archiver) say about one service's window."""

    service: str
    """The inventory service."""
    tool: str
    """The backup tool (``pgbackrest``)."""
    repo_host: str
    """Where the repository was asked."""
    sampled_at: float
    """When the answer arrived (epoch seconds)."""
    health: WindowHealth
    """The judgement."""
    reason: str = ""
    """Why it is not OK (empty when OK)."""
    oldest: float | None = None
    """The oldest restorable point: the oldest usable backup's end (epoch), None unknown."""
    oldest_backup: str | None = None
    """That backup's label."""
    newest: float | None = None
    """The newest restorable point: when the newest WAL segment before any gap was archived."""
    newest_wal: str | None = None
    """That segment's name."""
    newest_backup: str | None = None
    """The newest usable backup's label."""
    backups: int = 0
    """Usable backups in the repository."""
    gap: str | None = None
    """The first WAL segment missing from the archive (recovery cannot pass it), if any."""
    archiver: dict[str, Any] = field(default_factory=dict)
    """The primary's ``pg_stat_archiver`` as :data:`ARCHIVER_SQL` returns it (may be empty)."""

    def age(self, now: float) -> float | None:
        """Seconds since the newest WAL segment was archived."""
        return None if self.newest is None else max(0.0, now - self.newest)

    def to_json(self, now: float) -> dict[str, Any]:
        """The ``--json`` shape (times as epoch seconds, ages in seconds)."""
        age = self.age(now)
        return {
            "service": self.service,
            "tool": self.tool,
            "repo_host": self.repo_host,
            "health": self.health.value,
            "reason": self.reason,
            "oldest": self.oldest,
            "oldest_backup": self.oldest_backup,
            "newest": self.newest,
            "newest_wal": self.newest_wal,
            "newest_backup": self.newest_backup,
            "archive_age_seconds": None if age is None else round(age, 1),
            "backups": self.backups,
            "gap": self.gap,
            "sampled_at": self.sampled_at,
        }


FILES = "@@drconsole-window-files@@"
"""First line of the repository command's answer when it read the repository's files itself."""

DEFAULT_CONFIG = "/etc/pgbackrest/pgbackrest.conf"
"""pgBackRest's configuration file when the inventory names none."""

DEFAULT_REPO = "/var/lib/pgbackrest"
"""pgBackRest's ``repo1-path`` when the configuration sets none."""

_SETTINGS_AWK = r"""
/^[ \t]*\[/ { sec = $0; gsub(/[ \t]/, "", sec); next }
{ i = index($0, "="); if (!i) next
  k = substr($0, 1, i - 1); v = substr($0, i + 1)
  gsub(/[ \t]/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
  if (sec != "[global]" && sec != s) next
  if (k == "repo1-path") p[sec == s] = v
  else if (k == "repo1-type") t[sec == s] = v
  else if (k == "repo1-cipher-type") c[sec == s] = v }
END { print ((1 in p) ? p[1] : p[0]) "\t" ((1 in t) ? t[1] : t[0]) "\t" ((1 in c) ? c[1] : c[0]) }
"""
"""Prints ``repo1-path``, ``repo1-type`` and ``repo1-cipher-type`` from the configuration's
``[global]`` section, the stanza's own section winning (empty when unset)."""


def pgbackrest_command(backup: BackupSettings, timeout: float) -> str:
    """Ask pgBackRest itself: ``info`` and ``repo-ls`` of the archive, JSON, both at once."""
    base = ["pgbackrest"]
    if backup.config:
        base.append(f"--config={backup.config}")
    stanza = backup.stanza or ""
    info = [*base, f"--stanza={stanza}", "--output=json", "info"]
    listing = [*base, "--output=json", "repo-ls", "--recurse", f"archive/{stanza}"]
    limit = f"timeout {max(1, round(timeout))}"
    # Both calls at once (each is mostly pgBackRest's start-up), their outputs in order.
    return (
        "d=$(mktemp -d) && trap 'rm -rf \"$d\"' EXIT && "
        f'{{ {limit} {shlex.join(info)} > "$d/i" & {limit} {shlex.join(listing)} > "$d/l"; '
        f'r=$?; wait; cat "$d/i"; echo {MARK}; cat "$d/l"; echo {MARK}$r; }}'
    )


def repo_command(backup: BackupSettings, timeout: float) -> str:
    """The command run on the repository host.

    A repository on a POSIX file system without encryption is read directly: its
    ``backup.info`` and ``archive.info`` (pgBackRest's own INI files, the ``.copy`` when the
    main one is unreadable) and a listing of the archive with modification times, one
    ``cat``/``find`` of files already in the page cache, so the status sweep does not pay
    pgBackRest's start-up (tens of milliseconds per call) on every round. Any other
    repository (object storage, encryption, or a configuration the command cannot read) is
    asked through pgBackRest itself (:func:`pgbackrest_command`).
    """
    conf = shlex.quote(backup.config or DEFAULT_CONFIG)
    stanza = backup.stanza or ""
    section = shlex.quote(f"[{stanza}]")
    q = shlex.quote(stanza)
    return (
        f'c={conf}; if [ -r "$c" ] && '
        f"set -- $(awk -v s={section} -F '\\t' {shlex.quote(_SETTINGS_AWK)} \"$c\" | "
        "sed 's/\t/ x/g; s/^/x/') && "
        f"p=${{1#x}} && p=${{p:-{DEFAULT_REPO}}} && "
        '{ [ "${2#x}" = "" ] || [ "${2#x}" = posix ]; } && '
        '{ [ "${3#x}" = "" ] || [ "${3#x}" = none ]; } && '
        f'[ -d "$p/archive/"{q} ]; then '
        f"echo {FILES}; "
        f'cat "$p/backup/"{q}/backup.info 2>/dev/null || cat "$p/backup/"{q}/backup.info.copy; '
        f"echo {MARK}; "
        f'cat "$p/archive/"{q}/archive.info 2>/dev/null || cat "$p/archive/"{q}/archive.info.copy; '
        f"echo {MARK}; "
        f"find \"$p/archive/\"{q} -type f -printf '%P %T@\\n'; echo {MARK}$?; "
        f"else {pgbackrest_command(backup, timeout)}; fi"
    )


def _ini(text: str) -> dict[str, dict[str, str]]:
    """pgBackRest's INI files: section -> key -> raw value (JSON text)."""
    out: dict[str, dict[str, str]] = {}
    section: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
        elif "=" in line:
            key, _, value = line.partition("=")
            section[key] = value
    return out


def _json_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def from_files(
    backup_info: str, archive_info: str, listing: str, stanza: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The repository's files read directly, in the shapes of ``pgbackrest --output=json
    info`` and ``repo-ls --recurse archive/STANZA`` (only the keys :func:`parse` reads).

    Args:
        backup_info: ``backup/STANZA/backup.info`` ("" when missing).
        archive_info: ``archive/STANZA/archive.info`` ("" when missing).
        listing: ``find archive/STANZA -type f -printf '%P %T@\\n'``.
        stanza: The stanza (named in a missing stanza's message).
    """
    binfo, ainfo = _ini(backup_info), _ini(archive_info)
    if "backup:current" not in binfo and "db" not in binfo:
        status = {"code": 1, "message": f"missing stanza data: no backup.info for {stanza}"}
        return [{"name": stanza, "status": status, "backup": [], "archive": []}], {}
    backups: list[dict[str, Any]] = []
    for label, raw in (binfo.get("backup:current") or {}).items():
        data = _json_value(raw)
        if not isinstance(data, dict) or not isinstance(
            data.get("backup-timestamp-stop"), int | float
        ):
            continue
        backups.append(
            {
                "label": label,
                "type": data.get("backup-type"),
                "error": bool(data.get("backup-error")),
                "timestamp": {
                    "start": data.get("backup-timestamp-start"),
                    "stop": data.get("backup-timestamp-stop"),
                },
                "archive": {
                    "start": data.get("backup-archive-start"),
                    "stop": data.get("backup-archive-stop"),
                },
                "lsn": {"start": data.get("backup-lsn-start"), "stop": data.get("backup-lsn-stop")},
            }
        )
    backups.sort(key=lambda b: (b["timestamp"]["stop"] or 0, str(b["label"])))
    db = ainfo.get("db") or binfo.get("db") or {}
    version, db_id = _json_value(db.get("db-version")), _json_value(db.get("db-id"))
    archive = [{"id": f"{version}-{db_id}"}] if version is not None and db_id is not None else []
    files: dict[str, Any] = {}
    for raw in listing.splitlines():
        path, _, when = raw.rpartition(" ")
        try:
            files[path] = {"type": "file", "time": float(when)}
        except ValueError:
            continue
    status = {"code": 0, "message": "ok"}
    return [{"name": stanza, "status": status, "backup": backups, "archive": archive}], files


def _segno(log: str, seg: str) -> int:
    return int(log, 16) * SEGMENTS_PER_LOG + int(seg, 16)


def _name(timeline: str, segno: int) -> str:
    return f"{timeline}{segno // SEGMENTS_PER_LOG:08X}{segno % SEGMENTS_PER_LOG:08X}"


def _archive(listing: dict[str, Any], archive_id: str) -> dict[str, dict[int, float]]:
    """Timeline -> segment number -> archive time, for one archive id (``15-1``)."""
    out: dict[str, dict[int, float]] = {}
    for path, entry in listing.items():
        if not isinstance(entry, dict) or entry.get("type") != "file":
            continue
        head, _, name = path.rpartition("/")
        if not head.startswith(archive_id + "/") and head != archive_id:
            continue
        m = _SEGMENT.fullmatch(name.split(".", 1)[0])
        if m is None:
            continue
        tl, log, seg = m.groups()
        out.setdefault(tl, {})[_segno(log, seg)] = float(entry.get("time") or 0)
    return out


def _unbroken(
    segments: dict[str, dict[int, float]], start: str
) -> tuple[int, str, float, str | None]:
    """The unbroken run of WAL from a backup's start segment on, across the timelines after
    it: (last segment number, its timeline, its archive time, the first missing segment or
    None); the number is -1 when not even the start segment is there."""
    m = re.fullmatch(r"([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})", start)
    if m is None:
        return -1, "", 0.0, start or "?"
    tl0, log0, seg0 = m.groups()
    gap: str | None = None
    newest_no, newest_tl, newest_time = -1, tl0, 0.0
    for tl in sorted(segments):
        if tl < tl0:
            continue
        have = segments[tl]
        lo = _segno(log0, seg0) if tl == tl0 else min(have)
        for no in range(lo, max(have) + 1):
            if no not in have:
                gap = _name(tl, no)
                break
            newest_no, newest_tl, newest_time = no, tl, have[no]
        if gap is not None:
            break
    return newest_no, newest_tl, newest_time, gap


def _fail(base: dict[str, Any], health: WindowHealth, reason: str) -> RecoveryWindow:
    return RecoveryWindow(**base, health=health, reason=reason)


def parse(
    backup: BackupSettings,
    service: str,
    exit_status: int | None,
    stdout: str,
    stderr: str,
    sampled_at: float,
    archiver: dict[str, Any] | None = None,
) -> RecoveryWindow:
    """Judge the repository command's output (and the primary's archiver, when known).

    Args:
        backup: The service's backup settings.
        service: The service name.
        exit_status: The command's exit status (None: it did not finish).
        stdout: Its standard output.
        stderr: Its standard error (quoted in the reason when pgBackRest failed).
        sampled_at: When it finished.
        archiver: The primary's ``pg_stat_archiver`` (:data:`ARCHIVER_SQL`), if it answered.
    """
    base: dict[str, Any] = {
        "service": service,
        "tool": backup.tool,
        "repo_host": backup.repo_host,
        "sampled_at": sampled_at,
        "archiver": archiver or {},
    }
    files = stdout.startswith(FILES + "\n")
    parts = stdout.split(MARK)
    if exit_status is None or len(parts) < (4 if files else 3):
        why = (stderr.strip().splitlines() or ["no answer"])[-1]
        return _fail(base, WindowHealth.UNKNOWN, f"the repository on {backup.repo_host}: {why}")
    if files:
        info, listing = from_files(
            parts[0][len(FILES) + 1 :], parts[1], parts[2].strip("\n"), backup.stanza or ""
        )
    else:
        try:
            info = json.loads(parts[0] or "[]")
            listing = json.loads(parts[1] or "{}")
        except json.JSONDecodeError:
            why = (stderr.strip().splitlines() or ["unreadable pgbackrest output"])[-1]
            return _fail(base, WindowHealth.UNKNOWN, f"pgbackrest on {backup.repo_host}: {why}")
    stanza = info[0] if isinstance(info, list) and info else {}
    status = stanza.get("status") or {}
    if status.get("code", 1) != 0:
        message = status.get("message") or "no such stanza"
        return _fail(base, WindowHealth.CRIT, f"stanza {backup.stanza}: {message}")
    usable = [b for b in stanza.get("backup") or [] if not b.get("error")]
    if not usable:
        return _fail(base, WindowHealth.CRIT, "no usable backup: nothing can be recovered")
    first, last = usable[0], usable[-1]
    base.update(
        oldest=float(first["timestamp"]["stop"]),
        oldest_backup=first["label"],
        newest_backup=last["label"],
        backups=len(usable),
    )
    archives = stanza.get("archive") or []
    archive_id = archives[-1].get("id") if archives else None
    segments = _archive(listing, archive_id) if archive_id else {}
    start = first.get("archive", {}).get("start") or ""
    m = re.fullmatch(r"([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})", start)
    if m is None or not segments:
        return _fail(base, WindowHealth.CRIT, "the WAL archive is empty: no point can be reached")
    newest_no, newest_tl, newest_time, gap = _unbroken(segments, start)
    if newest_no < 0:
        gap = gap or start
        return _fail(
            base, WindowHealth.CRIT, f"WAL segment {gap} that the oldest backup needs is missing"
        )
    base.update(newest=newest_time, newest_wal=_name(newest_tl, newest_no), gap=gap)
    if gap is not None and len(usable) > 1:
        # A newer backup may start after the gap: from its end on, recovery does not need
        # the missing segment (pgBackRest restores the newest backup before the target).
        no, tl, when, later_gap = _unbroken(segments, last.get("archive", {}).get("start") or "")
        if no >= 0 and later_gap is None:
            base.update(newest=when, newest_wal=_name(tl, no))
            return _fail(
                base,
                WindowHealth.WARN,
                f"WAL gap: segment {gap} is missing from the archive; points before the end "
                f"of backup {last['label']} cannot be recovered, from its end on they can",
            )
    if gap is not None:
        return _fail(
            base,
            WindowHealth.CRIT,
            f"WAL gap: segment {gap} is missing from the archive; recovery cannot pass "
            f"{_name(newest_tl, newest_no)}",
        )
    arch = archiver or {}
    if arch.get("archive_mode") == "off":
        return _fail(base, WindowHealth.CRIT, "archive_mode is off on the primary: no new WAL")
    failed, archived = arch.get("failed"), arch.get("archived")
    if failed is not None and (archived is None or float(failed) > float(archived)):
        return _fail(
            base,
            WindowHealth.CRIT,
            f"archive_command is failing on the primary (WAL {arch.get('failed_wal')}, "
            f"{arch.get('failures')} failure(s) since the last success)",
        )
    return RecoveryWindow(**base, health=WindowHealth.OK)


def parse_archiver(exit_status: int | None, stdout: str) -> dict[str, Any]:
    """The primary's archiver object, or ``{}`` when it did not answer with one."""
    if exit_status != 0:
        return {}
    for raw in stdout.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


# -- MariaDB: a prepared mariadb-backup base backup plus the primary's binlogs ----------------

MARIA_BINLOGS_SQL = "SHOW BINARY LOGS"
"""What the primary is asked: the binlogs it still has (the replay needs them all from the
base backup's file on)."""


def maria_repo_command(backup: BackupSettings) -> str:
    """The command run on the repository host: the base backup's binlog position and age."""
    path = shlex.quote(backup.path or "")
    return f"cat {path}/xtrabackup_binlog_info && echo {MARK} && stat -c %Y {path}/xtrabackup_info"


def parse_binlogs(exit_status: int | None, stdout: str) -> list[str] | None:
    """The binlog names ``SHOW BINARY LOGS`` listed, or None when it did not answer."""
    if exit_status != 0:
        return None
    return [m.group(0) for m in re.finditer(r"(?m)^\S+\.\d{6}(?=\s|$)", stdout)]


def parse_maria(
    backup: BackupSettings,
    service: str,
    exit_status: int | None,
    stdout: str,
    stderr: str,
    sampled_at: float,
    binlogs: list[str] | None,
) -> RecoveryWindow:
    """Judge a MariaDB window: the base backup exists and its binlog is still on the primary.

    Args:
        backup: The service's backup settings (``path`` is the prepared base backup).
        service: The service name.
        exit_status: The repository command's exit status (None: no answer).
        stdout: Its output (``xtrabackup_binlog_info``, the mark, the backup's mtime).
        stderr: Its errors (quoted in the reason).
        sampled_at: When it finished.
        binlogs: The primary's binlog names (None: the primary did not answer).
    """
    base: dict[str, Any] = {
        "service": service,
        "tool": backup.tool,
        "repo_host": backup.repo_host,
        "sampled_at": sampled_at,
    }
    if exit_status is None:
        why = (stderr.strip().splitlines() or ["no answer"])[-1]
        return _fail(base, WindowHealth.UNKNOWN, f"the repository on {backup.repo_host}: {why}")
    parts = stdout.split(MARK)
    fields = parts[0].split() if parts else []
    if exit_status != 0 or len(parts) < 2 or len(fields) < 2:
        why = (stderr.strip().splitlines() or ["unreadable"])[-1]
        return _fail(base, WindowHealth.CRIT, f"no prepared base backup at {backup.path}: {why}")
    file, pos = fields[0], fields[1]
    gtid = fields[2] if len(fields) > 2 else "?"
    try:
        oldest = float(parts[1].strip())
    except ValueError:
        oldest = None
    base.update(oldest=oldest, oldest_backup=f"{file}:{pos} (GTID {gtid})", backups=1)
    base.update(newest_backup=base["oldest_backup"])
    if binlogs is None:
        return _fail(base, WindowHealth.UNKNOWN, "the primary did not list its binlogs")
    if file not in binlogs:
        return _fail(
            base,
            WindowHealth.CRIT,
            f"binlogs purged past the base backup: {file} (where it starts) is gone from the "
            "primary; nothing after the backup can be recovered",
        )
    base.update(newest=sampled_at, newest_wal=binlogs[-1] if binlogs else None)
    return RecoveryWindow(**base, health=WindowHealth.OK)


# -- Redis: the primary's timestamped append-only file ------------------------------------------


def aof_command(cli: str) -> str:
    """Run on a Redis member's host: where its AOF is, and its first and last ``#TS:``.

    Args:
        cli: ``redis-cli`` with the member's connection options (``console.probes.redis``).

    Prints ``aof on|off``, ``tsconf yes|no`` (``aof-timestamp-enabled``), ``aofdir PATH``
    (the AOF's directory), then ``ts FIRST LAST`` (epoch seconds; empty when none) and,
    without an annotation, ``base EPOCH INCR_BYTES`` (the last rewrite's base file time, the
    size of the increments written since).
    """
    # One CONFIG GET for the four settings (Redis 7 takes several), the first annotation
    # read from the start and the last from the end (tac seeks; the AOF is never read whole).
    # Everything else is shell built-ins: on a busy host each extra process costs more than
    # the reads (this rides in the sweep's probe exec of the primary).
    return (
        "nl='\n'; cr=$(printf '\\r'); IFS=$nl; "
        f"set -- $({cli} --raw CONFIG GET dir appenddirname appendonly aof-timestamp-enabled); "
        "unset IFS; d=; n=; on=; tc=; while [ $# -ge 2 ]; do case $1 in dir) d=$2;; "
        "appenddirname) n=$2;; appendonly) on=$2;; aof-timestamp-enabled) tc=$2;; esac; "
        'shift 2; done; echo "aof $on"; echo "tsconf $tc"; a="$d/$n"; echo "aofdir $a"; '
        'm="$a/appendonly.aof.manifest"; [ -f "$m" ] || exit 0; cd "$a" || exit 0; i=; r=; b=; '
        'while read -r _ f _ _ _ t; do [ "$t" = i ] && i="$i $f" && r="$f $r"; '
        '[ "$t" = b ] && b=$f; done < "$m"; '
        '[ -n "$i" ] || { echo "ts  "; exit 0; }; '
        # the first annotation opens the first incr file (read by the shell); else search
        'set -- $i; f=; read -r f < "$1"; case $f in "#TS:"*) ;; '
        '*) f=$(grep -a -h -m1 "^#TS:" $i); f=${f%%$nl*};; esac; '
        'l=$(tac $r | grep -a -m1 "^#TS:"); '
        'f=${f#\\#TS:}; l=${l#\\#TS:}; printf "ts %s %s\\n" "${f%$cr}" "${l%$cr}"; '
        # no annotation: when the last rewrite was and how much was written since (one stat)
        '[ -n "$f" ] || [ -z "$b" ] || { set -- $(stat -c "%Y %s" $b $i); e=$1; shift 2; s=0; '
        'while [ $# -ge 2 ]; do s=$((s + $2)); shift 2; done; echo "base $e $s"; }'
    )


AOF_INFO = "INFO persistence server"
"""What a Redis primary's probe asks in its own redis-cli call once the AOF's directory is
known (:meth:`console.probes.redis.RedisProbe.command_riding`): ``aof_enabled``, and what
changes whenever the AOF does (``aof_current_size``, ``aof_rewrites``, the server's
``run_id``)."""

AOF_OVERLAP = 64
"""Bytes before the end of the last scan that the next one reads again (an annotation
being written while the last scan read the file is read whole the next time)."""


def aof_key(info: dict[str, str]) -> tuple[str, ...] | None:
    """What changes whenever the AOF does, from :data:`AOF_INFO`'s reply (None: not there)."""
    keys = ("run_id", "aof_rewrites", "aof_current_size", "aof_base_size")
    if not all(k in info for k in keys):
        return None
    return tuple(info[k] for k in keys)


def aof_files_command(aofdir: str, last: str | None, offset: int | None) -> str:
    """Run on a Redis primary's host when its AOF changed: the first and last ``#TS:``.

    Args:
        aofdir: The AOF's directory (``aofdir`` of :func:`aof_command`).
        last: The last increment file the previous scan read (None: none yet).
        offset: Its size then; when the manifest still ends with that file, only the bytes
            from there on (less :data:`AOF_OVERLAP`) are read for the last annotation, else
            every increment from its end (``tac``).

    Prints ``ts FIRST LAST`` (LAST empty when the bytes read hold none), ``incr FILE SIZE
    tail|full`` and, without any annotation, ``base EPOCH INCR_BYTES`` like
    :func:`aof_command`; ``gone`` when the manifest is not there.
    """
    start = max(0, offset - AOF_OVERLAP) + 1 if offset is not None else 0
    cached = shlex.quote(last or "")
    return (
        f"nl='\n'; cr=$(printf '\\r'); cd {shlex.quote(aofdir)} 2>/dev/null && "
        "[ -f appendonly.aof.manifest ] || { echo gone; exit 0; }; i=; r=; b=; "
        'while read -r _ f _ _ _ t; do [ "$t" = i ] && i="$i $f" && r="$f $r"; '
        '[ "$t" = b ] && b=$f; done < appendonly.aof.manifest; '
        '[ -n "$i" ] || { echo "ts  "; exit 0; }; '
        'set -- $i; f=; read -r f < "$1"; case $f in "#TS:"*) ;; '
        '*) f=$(grep -a -h -m1 "^#TS:" $i); f=${f%%$nl*};; esac; '
        "z=${r%% *}; set -- $(stat -c %s $i); t=0; for n; do t=$((t + n)); done; "
        f'if [ "$z" = {cached} ] && [ {start} -gt 0 ] && [ {start} -le $((n + 1)) ]; then '
        f'l=$(tail -c +{start} "$z" | grep -a "^#TS:" | tail -n 1); w=tail; '
        'else l=$(tac $r | grep -a -m1 "^#TS:"); w=full; fi; '
        'f=${f#\\#TS:}; l=${l#\\#TS:}; printf "ts %s %s\\n" "${f%$cr}" "${l%$cr}"; '
        'echo "incr $z $n $w"; '
        '[ -n "$f" ] || [ -z "$b" ] || echo "base $(stat -c %Y $b) $t"'
    )


@dataclass
class AofSeen:
    """What the last look at a Redis primary's AOF found (kept between sweeps)."""

    aofdir: str
    """The AOF's directory."""
    tsconf: str
    """``aof-timestamp-enabled`` as last read (``yes`` / ``no``)."""
    first: str = ""
    """The first ``#TS:`` since the last rewrite (epoch text, empty: none)."""
    last: str = ""
    """The last ``#TS:`` found."""
    base: str = ""
    """``EPOCH INCR_BYTES`` of the last rewrite when there is no annotation."""
    incr: str | None = None
    """The last increment file scanned."""
    offset: int | None = None
    """Its size when it was scanned."""
    key: tuple[str, ...] | None = None
    """:func:`aof_key` of the primary when this was read (None: not asked yet)."""
    read_at: float = 0.0
    """When :func:`aof_command` last read the settings (epoch)."""

    def output(self, on: str = "yes") -> str:
        """The lines :func:`parse_aof` reads, as :func:`aof_command` prints them."""
        lines = [f"aof {on}", f"tsconf {self.tsconf}", f"aofdir {self.aofdir}"]
        lines.append(f"ts {self.first} {self.last}")
        if self.base and not self.first:
            lines.append(f"base {self.base}")
        return "\n".join(lines) + "\n"


def aof_seen(stdout: str, now: float) -> AofSeen | None:
    """What :func:`aof_command` found, kept for the next sweeps (None: no AOF directory)."""
    fields = _aof_lines(stdout)
    if "aofdir" not in fields or fields.get("aof") != "yes":
        return None
    first, _, last = fields.get("ts", "").partition(" ")
    return AofSeen(
        aofdir=fields["aofdir"],
        tsconf=fields.get("tsconf", ""),
        first=first.strip(),
        last=last.strip(),
        base=fields.get("base", ""),
        read_at=now,
    )


def _aof_lines(stdout: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in stdout.splitlines():
        word, _, rest = raw.partition(" ")
        out.setdefault(word, rest)
    return out


def aof_rescanned(seen: AofSeen, stdout: str, key: tuple[str, ...] | None) -> AofSeen | None:
    """``seen`` updated with :func:`aof_files_command`'s output (None: the AOF is gone or
    the output is unreadable; the caller reads everything again)."""
    fields = _aof_lines(stdout)
    if "gone" in fields or "ts" not in fields:
        return None
    first, _, last = fields["ts"].partition(" ")
    incr = fields.get("incr", "").split()
    if len(incr) != 3 or not incr[1].isdigit():
        return None
    last = last.strip()
    if not last and incr[2] == "tail":
        last = seen.last  # nothing new annotated in the bytes read since
    return dataclasses.replace(
        seen,
        first=first.strip(),
        last=last,
        base=fields.get("base", ""),
        incr=incr[0],
        offset=int(incr[1]),
        key=key,
    )


def parse_aof(
    backup: BackupSettings, service: str, exit_status: int | None, stdout: str, sampled_at: float
) -> RecoveryWindow:
    """Judge a Redis window: appendonly on, timestamps written; from the last rewrite on.

    An empty increment after a rewrite (a quiet Redis, or one just rewritten) has no
    annotation yet, and needs none: every point since the rewrite holds the base's data, so
    the window runs from the rewrite to now. Writes without annotations are CRIT.
    """
    base: dict[str, Any] = {
        "service": service,
        "tool": backup.tool,
        "repo_host": backup.repo_host,
        "sampled_at": sampled_at,
    }
    if exit_status is None or "aof " not in stdout:
        return _fail(base, WindowHealth.UNKNOWN, "the primary did not say where its AOF is")
    if "aof yes" not in stdout:
        return _fail(base, WindowHealth.CRIT, "appendonly is off on the primary: no AOF to cut")
    m = re.search(r"(?m)^ts (\d+) (\d+)\s*$", stdout)
    if m is not None:
        base.update(
            oldest=float(m.group(1)), newest=float(m.group(2)), oldest_backup="last AOF rewrite"
        )
        return RecoveryWindow(**base, health=WindowHealth.OK)
    if re.search(r"(?m)^tsconf no\s*$", stdout):
        return _fail(
            base,
            WindowHealth.CRIT,
            "the AOF has no timestamp annotations (aof-timestamp-enabled is off): it cannot "
            "be cut at a point in time",
        )
    rewrite = re.search(r"(?m)^base (\d+) (\d+)\s*$", stdout)
    if rewrite is not None and int(rewrite.group(2)) == 0:
        base.update(
            oldest=float(rewrite.group(1)), newest=sampled_at, oldest_backup="last AOF rewrite"
        )
        return RecoveryWindow(**base, health=WindowHealth.OK)
    return _fail(
        base,
        WindowHealth.CRIT,
        "the AOF written since the last rewrite has no timestamp annotations "
        "(aof-timestamp-enabled was off when it was written): it cannot be cut at a point in time",
    )
