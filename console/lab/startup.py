"""Starting a profile: one sshd per site and the profile's own tasks, all in parallel.

Every task records what it starts through the context the moment it runs, so when one task
fails the others' servers are already in ``state.json`` and the caller's clean-up finds them.
All tasks are waited for before an error is raised: a task still starting a server while
the clean-up runs would leave that server behind.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from console.lab.errors import LabError
from console.lab.layout import SSH_PORT
from console.lab.osuser import chown_tree
from console.lab.procs import proc_info
from console.lab.profiles.base import Profile, StartContext
from console.lab.sshd import SshdSpec, generate_keypair, start_sshd
from console.lab.state import ProcessRecord


def start_all(ctx: StartContext, profile: Profile) -> dict[str, str]:
    """Run the sshd task and the profile's tasks in parallel.

    Returns:
        Each site's known_hosts line.

    Raises:
        LabError: Naming every task that failed (after all of them have finished).
    """
    known: dict[str, str] = {}
    tasks: dict[str, Callable[[], None]] = {
        "sshd": lambda: known.update(start_sshds(ctx, profile)),
        **profile.start_tasks(ctx),
    }
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="lab-up") as pool:
        futures: dict[Future[None], str] = {pool.submit(fn): name for name, fn in tasks.items()}
        try:
            wait_futures(futures)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    errors = [(futures[f], f.exception()) for f in futures if f.exception() is not None]
    if errors:
        first = errors[0][1]
        detail = "; ".join(f"{n}: {e}" for n, e in errors)
        raise LabError(f"lab up failed ({detail})") from first
    return known


def start_sshds(ctx: StartContext, profile: Profile) -> dict[str, str]:
    """Generate the lab's user key and start one sshd per site on the site's address.

    Returns:
        Each site's known_hosts line.
    """
    layout, user = ctx.layout, ctx.runner.user
    ident = layout.identity_file
    generate_keypair(ident, user, comment=f"drconsole lab {layout.directory}")
    shutil.copyfile(ident.with_name(ident.name + ".pub"), layout.authorized_keys)
    layout.authorized_keys.chmod(0o644)
    chown_tree(layout.ssh_dir, user)
    known: dict[str, str] = {}
    for site in layout.sites:
        spec = SshdSpec(
            name=site.host,
            address=site.address,
            port=SSH_PORT,
            directory=site.sshd_dir,
            authorized_keys=layout.authorized_keys,
            user=user,
            env=profile.sshd_env(layout, site, ctx.bins.pgbin),
        )
        handle = start_sshd(spec, timeout=30 * ctx.scale)
        info = proc_info(handle.pid)
        ctx.record(
            ProcessRecord(
                site=site.name,
                name="sshd",
                pid=handle.pid,
                start_time=info.start_time if info else 0,
                address=site.address,
                port=SSH_PORT,
                pidfile=str(spec.pid_file),
            )
        )
        known[site.name] = handle.known_hosts_line
    return known
