"""``/opt/ml`` at its real path without Docker: a private mount namespace per container
process in which the host's own folder is mounted at ``/opt/ml``.

Layer: runtime; standard library only (``ctypes`` for unshare/setns/mount/pivot_root:
Python 3.11 has none of them). Used by :mod:`simsage.runtime.containers`.

How, without privileges (the user-namespace way bubblewrap works): the child process,
between ``fork`` and ``exec`` (``preexec_fn``, so no extra program starts), unshares a
user namespace mapping only its own uid and gid (or joins the job's private network's
user and network namespaces, see :mod:`simsage.runtime.network`) and a mount namespace,
then builds a new root:

- a tmpfs root in which every entry of the real ``/`` except ``/opt`` is bind-mounted
  back (recursively, symlinks recreated), so nothing the process needs is hidden — the
  interpreter, libraries, ``/tmp``, ``/proc``, ``/dev`` …;
- ``/opt`` a tmpfs folder with every entry of the real ``/opt`` bind-mounted back
  (Python may live there) and ``ml`` bound to the host's folder — ``/opt/ml`` usually
  does not exist on the machine and cannot be created without root, which is why
  the root is rebuilt rather than ``/opt/ml`` mounted over;
- extra binds (a CheckpointConfig.LocalPath outside ``/opt/ml``; simsage's ``python``
  folder) wherever their folder can be made inside those tmpfs layers;
- empty read-only tmpfs over ``SIMSAGE_HOME`` (every job's tree and the store), so a job
  sees only its own tree;

and ``pivot_root``\\ s into it (twice, as bubblewrap does, so the temporary base over
``/tmp`` never shows). Nothing changes outside the namespace, and it ends with its last
process.

Everything the child does is computed in the parent first (:class:`MountPlan`): between
fork and exec only system calls run, no imports, no locks (the callers have threads).
:func:`probe` tries the whole thing once per process on a throwaway child; where it
fails (macOS, a kernel or sysctl that forbids user namespaces, a seccomp filter) the
callers fall back to the job-folder mapping and say why.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "ppc64le": 203}
OPT = "/opt"
OPT_ML = "/opt/ml"
BASE = "/tmp"  # where the temporary base is mounted; the real /tmp shows again afterwards
EXIT_SETUP_FAILED = 125  # what a child whose namespace could not be built exits with

_DIR, _FILE, _LINK = "dir", "file", "link"


@dataclass
class MountPlan:
    """What one child does before exec, all decided in the parent.

    ``root`` is the host folder that becomes ``/opt/ml``; ``binds`` maps more host
    folders to container paths; ``hide`` lists host folders covered by an empty
    read-only tmpfs; ``workdir`` is the container path the process starts in.
    """

    root: str
    workdir: str = OPT_ML
    binds: list[tuple[str, str]] = field(default_factory=list)
    hide: list[str] = field(default_factory=list)
    namespaces: tuple[int, int] | None = None  # fds of a network holder's user, net ns
    # Filled by prepare(): the entries of / and /opt to bind back, and the ids to map.
    root_entries: list[tuple[str, str, str]] = field(default_factory=list)
    opt_entries: list[tuple[str, str, str]] = field(default_factory=list)
    opt_source: str | None = None
    uid: int = 0
    gid: int = 0
    warnings: list[str] = field(default_factory=list)

    def prepare(self) -> MountPlan:
        """Read the machine's ``/`` and ``/opt`` and resolve every source path (the
        child resolves nothing: after the first pivot, absolute symlinks would point
        into the temporary root)."""
        self.uid, self.gid = os.geteuid(), os.getegid()
        self.root = os.path.realpath(self.root)
        self.root_entries = [e for e in _entries("/") if e[0] != "opt"]
        real_opt = os.path.realpath(OPT)
        if os.path.isdir(real_opt):
            self.opt_source = real_opt
            self.opt_entries = [e for e in _entries(real_opt) if e[0] != "ml"]
        self.binds = [(os.path.realpath(src), dst) for src, dst in self.binds]
        keep = {os.path.realpath(p) for p in (sys.prefix, sys.executable, _package_root())}
        hidden = []
        for path in {os.path.realpath(p) for p in self.hide}:
            if any(k == path or k.startswith(path + os.sep) for k in keep):
                self.warnings.append(
                    f"{path} stays visible: simsage's interpreter or package lives there"
                )
                continue
            hidden.append(path)
        self.hide = sorted(hidden)
        return self


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _entries(folder: str) -> list[tuple[str, str, str]]:
    """``(name, kind, link target)`` for each entry of ``folder``."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.is_symlink():
                found.append((entry.name, _LINK, os.readlink(entry.path)))
            elif entry.is_dir(follow_symlinks=False):
                found.append((entry.name, _DIR, ""))
            else:
                found.append((entry.name, _FILE, ""))
    return sorted(found)


# -- the system calls ----------------------------------------------------------------------


class _Calls:
    """libc's functions, looked up in the parent (never in the forked child: dlopen
    takes a lock another thread may hold)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.unshare = libc.unshare
        self.setns = libc.setns
        self.mount = libc.mount
        self.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        self.umount2 = libc.umount2
        self.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.syscall = libc.syscall
        number = SYS_PIVOT_ROOT.get(os.uname().machine)
        self.pivot_number = number


_CALLS: _Calls | None = None


def _calls() -> _Calls:
    global _CALLS
    if _CALLS is None:
        _CALLS = _Calls()
    return _CALLS


class SetupError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        raise SetupError(f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(c: _Calls, source, target: str, fstype, flags: int, data=None, what="") -> None:
    _check(
        c.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        what or f"mount {target}",
    )


def _pivot(c: _Calls, new_root: str, put_old: str) -> None:
    if c.pivot_number is None:
        raise SetupError(f"pivot_root: unknown system call number on {os.uname().machine}")
    _check(c.syscall(c.pivot_number, new_root.encode(), put_old.encode()), "pivot_root")


def _write(path: str, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY)
    try:
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


def _place(c: _Calls, source: str, target: str, kind: str, link: str) -> None:
    """Recreate one entry of a real folder in the new root: a symlink as a symlink,
    anything else bind-mounted (recursively: submounts come along)."""
    if kind == _LINK:
        os.symlink(link, target)
        return
    if kind == _DIR:
        os.mkdir(target, 0o755)
    else:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    _mount(c, source, target, None, MS_BIND | MS_REC, what=f"bind {source}")


def _ensure_folder(path: str, ours: set[str]) -> bool:
    """Make ``path`` (a folder in the new root) if each missing part of it can be made
    in a folder of ours (the tmpfs layers), never on the machine's own file systems."""
    if os.path.isdir(path):
        return True
    parent = os.path.dirname(path)
    if not _ensure_folder(parent, ours) or parent not in ours:
        return False
    os.mkdir(path, 0o755)
    ours.add(path)
    return True


def enter(plan: MountPlan) -> None:
    """Build the namespace in this (forked, single-threaded) process; then it may exec.

    Raises:
        SetupError: a step that must not fail did (the message says which).
    """
    c = _calls()
    if plan.namespaces is not None:
        user, net = plan.namespaces
        _check(c.setns(user, CLONE_NEWUSER), "join the job network's user namespace")
        _check(c.setns(net, CLONE_NEWNET), "join the job network's network namespace")
        _check(c.unshare(CLONE_NEWNS), "unshare a mount namespace")
    else:
        _check(c.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare user and mount namespaces")
        # Only our own ids (all an unprivileged process may map): files keep their owners.
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{plan.uid} {plan.uid} 1")
        _write("/proc/self/gid_map", f"{plan.gid} {plan.gid} 1")
    # Nothing of ours may propagate back to the machine's mounts.
    _mount(c, None, "/", None, MS_REC | MS_PRIVATE, what="make / private")
    _mount(c, "tmpfs", BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", "tmpfs base")
    os.chdir(BASE)
    os.mkdir("newroot", 0o755)
    os.mkdir("oldroot", 0o755)
    _mount(c, "newroot", "newroot", None, MS_BIND | MS_REC, what="bind the new root")
    _pivot(c, ".", "oldroot")  # the machine's root is at /oldroot now
    os.chdir("/")
    new, old = "/newroot", "/oldroot"
    for name, kind, link in plan.root_entries:
        try:
            _place(c, old + "/" + name, f"{new}/{name}", kind, link)
        except (OSError, SetupError) as exc:
            _warn(f"/{name} is not visible in the container: {exc}")
    ours = {new, new + OPT}
    os.mkdir(new + OPT, 0o755)
    for name, kind, link in plan.opt_entries:
        try:
            _place(c, f"{old}{plan.opt_source}/{name}", f"{new}{OPT}/{name}", kind, link)
        except (OSError, SetupError) as exc:
            _warn(f"{OPT}/{name} is not visible in the container: {exc}")
    os.mkdir(new + OPT_ML, 0o755)
    _mount(c, old + plan.root, new + OPT_ML, None, MS_BIND | MS_REC, what="bind /opt/ml")
    for source, target in plan.binds:
        if not _ensure_folder(new + target, ours):
            _warn(f"{target} cannot be made without changing this machine's file system")
            continue
        _mount(c, old + source, new + target, None, MS_BIND | MS_REC, what=f"bind {target}")
    for path in plan.hide:
        if os.path.isdir(new + path):
            _mount(c, "tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=0755")
    _mount(c, None, old, None, MS_REC | MS_PRIVATE, what="make the old root private")
    _check(c.umount2(old.encode(), MNT_DETACH), "detach the old root")
    os.chdir(new)
    _pivot(c, ".", ".")  # the base now lies over the new root at "/" …
    _check(c.umount2(b".", MNT_DETACH), "detach the base")  # … and goes
    os.chdir("/")
    os.chdir(plan.workdir)


def _warn(message: str) -> None:
    # fd 2 is the container's log by now; a plain write takes no lock.
    with contextlib.suppress(OSError):
        os.write(2, f"simsage: {message}\n".encode())


def preexec(plan: MountPlan):
    """The ``preexec_fn`` that builds ``plan``'s namespace, or exits the child with
    :data:`EXIT_SETUP_FAILED` saying why."""
    _calls()  # resolved here, in the parent

    def setup() -> None:
        for warning in plan.warnings:
            _warn(warning)
        try:
            enter(plan)
        except (OSError, SetupError) as exc:
            _warn(f"could not mount /opt/ml in a private mount namespace: {exc}")
            os._exit(EXIT_SETUP_FAILED)

    return setup


_PROBED: tuple[bool, str] | None = None


def probe() -> tuple[bool, str]:
    """Whether private mount namespaces work here: ``(True, "")`` or ``(False, why)``.

    Tried once per process, on a child that builds a namespace over an empty folder and
    checks that ``/opt/ml`` is that folder (a few milliseconds).
    """
    global _PROBED
    if _PROBED is None:
        _PROBED = _probe()
    return _PROBED


def _probe() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"mount namespaces need Linux (this is {sys.platform})"
    if os.uname().machine not in SYS_PIVOT_ROOT:
        return False, f"pivot_root's system call number on {os.uname().machine} is unknown"
    true = next((p for p in ("/bin/true", "/usr/bin/true") if os.access(p, os.X_OK)), None)
    if true is None:
        return False, "no /bin/true to try a namespace with"
    with tempfile.TemporaryDirectory(prefix="simsage-probe-") as folder:
        marker = Path(folder) / "probe"
        marker.write_text("")
        plan = MountPlan(folder).prepare()
        try:
            result = subprocess.run(
                [true],
                preexec_fn=preexec(plan),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"could not start a probe: {exc}"
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
            why = detail[-1].removeprefix("simsage: ") if detail else f"exit {result.returncode}"
            return False, why
    return True, ""
