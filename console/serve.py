"""``drconsole serve``: the console in a browser, through textual-serve, for the war room.

Every browser that opens the page gets its own console process (textual-serve starts one per
websocket), so roles are decided per connection, here, before that process exists:

* **observer** (anyone with the URL): the process is ``drconsole tui --read-only``: the board,
  the playbooks' plan preview, the audit log and replays of any run, including the one in
  progress (its replay follows the audit log as the operator's run writes it), and every
  action refused with "read-only". The process has no way to decide anything: it never opens
  a run, so it has no engine to send a decision to.
* **operator**: a browser that opened ``/?token=TOKEN`` with the token of
  ``--operator-token-file`` gets an HttpOnly, SameSite=Strict cookie; a websocket that carries
  it (from this server's own page: the Origin must be this host) runs the normal console, as
  ``--operator`` (recorded with every decision, as in the terminal).

Without the token no request can reach an operator process: the role is chosen from the
cookie alone, compared in constant time, and a wrong, missing or cross-site one is an
observer. Everything the page loads comes from this server: textual-serve's static folder
(its JS, CSS and fonts) and drconsole's copy of its page template, which drops the one
outside asset textual-serve's own template has (a Google Fonts stylesheet).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import textual_serve
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from console.errors import InputError
from console.notify.targets import NOTIFY_ENV

COOKIE = "drconsole_operator"
"""The cookie that carries the operator token."""
TEMPLATES = Path(__file__).parent / "serve_templates"
"""drconsole's page template (textual-serve's, with no outside asset)."""
STATICS = Path(textual_serve.__file__).parent / "static"
"""textual-serve's own JS, CSS and fonts, served from this host."""

log = logging.getLogger("drconsole.serve")


def read_token(path: Path) -> str:
    """The operator token: the file's first line, at least 16 characters.

    Raises:
        InputError: missing, unreadable or too short (one line, exit 2).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--operator-token-file {path}: {exc.strerror or exc}") from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(token) < 16:
        raise InputError(
            f"--operator-token-file {path}: the token must be at least 16 characters "
            "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > FILE`)"
        )
    return token


def console_command(args: argparse.Namespace, *, read_only: bool) -> str:
    """The shell command of one browser's console process.

    With a team store and ``--audit-fallback``, each console gets the store's URL (even when
    the server itself had to fall back at its start) and the fallback: it tries the store when
    it starts, and its local file takes over if the store is lost in the middle of a run.
    """
    audit = getattr(args, "audit_team_store", None) or args.audit
    argv = [sys.executable, "-m", "console", "--audit", str(audit)]
    if getattr(args, "audit_fallback", None):
        argv += ["--audit-fallback", str(Path(args.audit_fallback).expanduser().absolute())]
    argv += ["--operator", str(args.operator), "--mode", str(args.mode), "tui"]
    argv += ["-i", str(args.inventory), "-p", str(args.playbooks)]
    argv += ["--refresh", f"{args.refresh:g}"]
    if getattr(args, "lease", None):
        argv += ["--lease", str(args.lease)]
    if read_only:
        argv.append("--read-only")
    if getattr(args, "notify", None):  # the URLs themselves go by environment (not in ps)
        argv += ["--notify-timeout", f"{args.notify_timeout:g}"]
    return shlex.join(argv)


class ConsoleServer(Server):
    """textual-serve's server with drconsole's roles and page."""

    def __init__(
        self,
        *,
        observer_command: str,
        operator_command: str | None,
        token: str | None,
        host: str,
        port: int,
        title: str = "drconsole",
    ) -> None:
        super().__init__(
            observer_command,
            host=host,
            port=port,
            title=title,
            statics_path=STATICS,
            templates_path=TEMPLATES,
        )
        self.observer_command = observer_command
        self.operator_command = operator_command
        self.token = token
        self.sessions: list[str] = []
        """The role of every console process started, in order (for tests and the log)."""

    # -- roles -----------------------------------------------------------------------------

    def _has_token(self, given: str | None) -> bool:
        if not self.token or not given:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())

    def role_of(self, request: web.Request) -> str:
        """``operator`` when the request carries the token's cookie from this server's own
        page, else ``observer``."""
        if self.operator_command is None or not self._has_token(request.cookies.get(COOKIE)):
            return "observer"
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            return "observer"  # another site's page riding the operator's cookie
        return "operator"

    # -- the page --------------------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page; ``?token=`` with the right token sets the operator cookie (and is then
        dropped from the address bar); a wrong token is refused."""
        given = request.query.get("token")
        if given is not None:
            if not self._has_token(given):
                raise web.HTTPForbidden(text="wrong operator token\n")
            response = web.HTTPFound("/")
            response.set_cookie(COOKIE, given, httponly=True, samesite="Strict", path="/")
            raise response
        role = self.role_of(request)
        context = await self._context(request)
        context["role_line"] = (
            "operator: your keys act, recorded under your name"
            if role == "operator"
            else "observer: read-only"
        )
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def _context(self, request: web.Request) -> dict[str, Any]:
        base = Server.handle_index.__wrapped__  # type: ignore[attr-defined]
        context: dict[str, Any] = await base(self, request)
        return context

    # -- one browser's console -------------------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Start this browser's console process in the role the request has."""
        role = self.role_of(request)
        command = self.operator_command if role == "operator" else self.observer_command
        assert command is not None
        self.sessions.append(role)
        log.info("console for a browser (%s): %s", role, request.remote)
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            app_service = AppService(
                command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,  # type: ignore[arg-type]  # (as textual-serve passes it)
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            try:
                await self._process_messages(websocket, app_service)
            finally:
                await app_service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            log.exception("the console process of a browser failed")
        finally:
            if app_service is not None:
                await app_service.stop()
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        """Say where the console is served (and how operators get in)."""
        self.console.print(f"drconsole served on {self.public_url} (observers: read-only)")
        if self.operator_command is not None:
            self.console.print(f"operators: {self.public_url}/?token=<the token file's token>")
        self.console.print("Ctrl+C stops the server and every console it started")


def serve_command(args: argparse.Namespace) -> int:
    """``drconsole serve``; returns the exit code when the server stops."""
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: must be 1-65535")
    if not Path(args.inventory).is_file():
        raise InputError(f"{args.inventory}: no such inventory file")
    from console.engine.headless import lease_length  # noqa: PLC0415 (checked before serving)

    lease_length(args)
    from console.model.inventory import load_inventory  # noqa: PLC0415 (checked before serving)

    load_inventory(args.inventory)
    from console.notify.targets import command_line_targets  # noqa: PLC0415

    command_line_targets(getattr(args, "notify", None) or ())
    if args.notify:
        # every console process inherits the environment: --notify URLs (which may hold a
        # token) reach them there rather than on a command line anyone can read in ps
        os.environ[NOTIFY_ENV] = "\n".join(args.notify)
    token = read_token(args.operator_token_file) if args.operator_token_file else None
    if not args.bind.startswith("127.") and args.bind not in ("localhost", "::1"):
        print(
            f"drconsole: warning: serving on {args.bind}: anyone who can reach it can watch "
            "(observers need no token); put it behind your VPN or a TLS proxy",
            file=sys.stderr,
        )
    server = ConsoleServer(
        observer_command=console_command(args, read_only=True),
        operator_command=console_command(args, read_only=False) if token else None,
        token=token,
        host=args.bind,
        port=args.port,
    )
    server.serve()
    return 0
