"""Processes of jobs: whether one still runs, and ending it with its whole tree.

Layer: runtime, shared by every job kind (runners, algorithm hosts, endpoint
supervisors and their instances). Built on psutil rather than hand-written ``os.kill``
and ``/proc`` reading.

Invariants:
- a pid read back from the registry or a job folder may have been reused by an
  unrelated process since it was recorded. Wherever the caller knows when the process
  was started (``started_by``: a time taken just after it was started) or its exact
  creation time (``created``), a process created later than that is not the one
  recorded, and is neither reported alive nor signalled;
- signalling a tree never fails because part of it is already gone (a process that
  ended, or one this user may not signal, is skipped);
- a process group is signalled only through its leader's pid when the group still
  exists: a group id cannot be reused while any member of the group lives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

# psutil's creation time is derived from clock ticks since boot (1/100 s on Linux) and
# the boot time in whole seconds: allow that much between it and a time.time() taken
# just after the start.
CREATE_TIME_SLACK = 1.0


def process(pid: int | None, started_by: float | None = None, created: float | None = None):
    """The running process ``pid`` as a :class:`psutil.Process`, or None when there is
    none, or when it is not the process the caller recorded.

    Args:
        started_by: a time (``time.time()``) taken after the recorded process started;
            a process created later is another one that got the same pid.
        created: the recorded process's own creation time (``psutil``'s); a process
            with another one is another process.
    """
    if not pid or pid < 0:
        return None
    try:
        found = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
    if started_by is None and created is None:
        return found
    try:
        birth = found.create_time()
    except psutil.ZombieProcess:
        return found  # it ended and is not reaped yet: still there
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return found  # it exists; we may not read its details
    if started_by is not None and birth > started_by + CREATE_TIME_SLACK:
        return None
    if created is not None and abs(birth - created) > 0.05:
        return None
    return found


def alive(pid: int | None, started_by: float | None = None, created: float | None = None) -> bool:
    """Whether ``pid`` still runs (a zombie not yet reaped counts: it has not been
    waited for) and is the process recorded (see :func:`process`)."""
    return process(pid, started_by, created) is not None


def create_time(pid: int) -> float | None:
    """The creation time of ``pid`` (to record next to it), or None if it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return [root]


def _send(targets: list[psutil.Process], sig: int) -> None:
    for target in targets:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            target.send_signal(sig)


def signal_group(pid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pid`` (what a session leader started, also after
    the leader itself has exited and been reaped: ``kill -- -<pid>``); False if the group
    has no member left."""
    return _signal_group(pid, sig)


def _signal_group(pid: int, sig: int) -> bool:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _outside_group(targets: list[psutil.Process], group: int) -> list[psutil.Process]:
    """The targets not in process group ``group`` (those the group's signal missed),
    so no process gets a signal twice."""
    outside = []
    for target in targets:
        try:
            if os.getpgid(target.pid) != group:
                outside.append(target)
        except ProcessLookupError:
            continue
    return outside


def signal_tree(
    pid: int | None,
    sig: int,
    started_by: float | None = None,
    group: bool = True,
    created: float | None = None,
) -> list[psutil.Process]:
    """Send ``sig`` to ``pid`` and every process below it, and (``group``) to the
    process group it leads, if it leads one (detached runners and algorithm hosts each
    run in their own session, so their group holds what they started even when the
    parent link is lost). Returns the processes signalled (to wait for).

    With ``started_by`` or ``created`` (see :func:`process`) and no such process (gone,
    or the pid reused), nothing is sent. Without them, a pid that is gone still has its
    group signalled: the members a dead leader left behind (what ``kill -- -<pid>``
    would reach).
    """
    if not pid:
        return []
    root = process(pid, started_by, created)
    targets = _tree(root) if root is not None else []
    signalled = group and (root is not None or (started_by is None and created is None))
    if signalled and _signal_group(pid, sig):
        _send(_outside_group(targets, pid), sig)
    else:
        _send(targets, sig)
    return targets


def kill_tree(
    pid: int | None,
    started_by: float | None = None,
    group: bool = True,
    created: float | None = None,
) -> None:
    """SIGKILL ``pid``, everything below it and its process group (see
    :func:`signal_tree`)."""
    signal_tree(pid, signal.SIGKILL, started_by, group, created)


def _ended(target: psutil.Process) -> bool:
    try:
        return target.status() == psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return True


def running(pid: int | None) -> bool:
    """Whether ``pid`` still runs: unlike :func:`alive`, a process that ended and waits
    for its parent to reap it (a zombie) counts as ended."""
    found = process(pid)
    return found is not None and not _ended(found)


def wait_ended(targets: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` seconds for every process of ``targets`` to end; returns
    those still running. A process that ended counts even before its parent reaps it,
    and nothing is reaped here (a parent's Popen still gets its child's exit status)."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    left = [t for t in targets if not _ended(t)]
    while left and time.monotonic() < deadline:
        time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, 0.1)
        left = [t for t in left if not _ended(t)]
    return left


def terminate_tree(
    pid: int | None,
    grace: float,
    started_by: float | None = None,
    group: bool = True,
) -> bool:
    """SIGTERM the tree of ``pid``, wait up to ``grace`` seconds for all of it to end,
    then SIGKILL what is left. Returns whether it ended within the grace period."""
    targets = signal_tree(pid, signal.SIGTERM, started_by, group)
    left = wait_ended(targets, grace)
    if not left:
        return True
    if group and pid and _signal_group(pid, signal.SIGKILL):
        _send(_outside_group(left, pid), signal.SIGKILL)
    else:
        _send(left, signal.SIGKILL)
    wait_ended(left, 5.0)
    return False
