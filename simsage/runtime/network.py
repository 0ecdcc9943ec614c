"""A private network for the hosts of a job: one Linux network namespace in which only
the loopback interface exists and is up.

Layer: runtime. Why: XGBoost's collective (3.x, ``src/collective/comm.cc``) binds every
worker's listening sockets to INADDR_ANY — its ``BindHost`` — and offers no setting for
the address (``dmlc_tracker_uri`` only names the tracker to connect to). Inside this
namespace "any address" is the namespace's own loopback: the hosts still reach each
other on 127.0.0.1, and nothing outside the namespace can reach them. Jobs run with
``EnableNetworkIsolation`` get the same namespace, which also has no route out.

How, without privileges: a small *holder* process (``python -m simsage.runtime.network
hold``) unshares a user namespace (mapping the caller's own uid and gid, nothing else)
and a network namespace, brings ``lo`` up and waits; each host joins the holder's
namespaces between fork and exec (:meth:`PrivateNetwork.namespace_fds` and
:meth:`PrivateNetwork.preexec`, or :mod:`simsage.runtime.mountns` when the host also
gets a private mount namespace), so no extra program starts and the host's pid is the
command's. The holder lives in its creator's process group, reads its stdin and ends when
that closes (the creator ended); the namespace ends with its last process.

Where user namespaces are unavailable (macOS, a kernel or sysctl that forbids them),
:meth:`PrivateNetwork.open` says why and the caller runs the hosts unisolated, saying so.
Only the standard library is used (``ctypes`` for unshare/setns: Python 3.11 has neither).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from simsage.runtime.python import child_environment, module_command

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
READY_TIMEOUT = 10.0
_IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the 24-byte union


class PrivateNetwork:
    """A held network namespace; hosts join it through :meth:`namespace_fds`."""

    def __init__(self, holder: subprocess.Popen, namespace: int) -> None:
        self.holder = holder
        self.namespace = namespace  # the inode of the holder's /proc/<pid>/ns/net

    @classmethod
    def open(cls) -> tuple[PrivateNetwork | None, str]:
        """Create the namespace; returns ``(network, "")`` or ``(None, why not)``."""
        if not sys.platform.startswith("linux"):
            return None, f"network namespaces need Linux (this is {sys.platform})"
        try:
            holder = subprocess.Popen(
                module_command("simsage.runtime.network", "hold"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=child_environment(),
                close_fds=True,
            )
        except OSError as exc:
            return None, f"could not start the namespace holder: {exc}"
        answer = _read_line(holder.stdout, READY_TIMEOUT)
        if answer != "ready":
            with contextlib.suppress(OSError):
                holder.kill()
            holder.wait()
            return None, answer or "the namespace holder did not answer"
        try:
            namespace = os.stat(f"/proc/{holder.pid}/ns/net").st_ino
        except OSError as exc:
            holder.kill()
            holder.wait()
            return None, f"cannot see the namespace: {exc}"
        return cls(holder, namespace), ""

    def namespace_fds(self) -> list[int]:
        """Open the holder's user and network namespaces for a child to join (see
        :meth:`preexec`); the caller closes them once the child started.

        Raises:
            OSError: the holder is gone (or its pid was reused by a stranger).
        """
        descriptors = [
            os.open(f"/proc/{self.holder.pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            for name in ("user", "net")
        ]
        if os.fstat(descriptors[1]).st_ino != self.namespace:
            for descriptor in descriptors:
                os.close(descriptor)
            raise OSError("the job's private network is gone")
        return descriptors

    @staticmethod
    def preexec(descriptors: list[int]):
        """A ``preexec_fn`` joining the namespaces :meth:`namespace_fds` opened (user
        first: it grants the right to join the network one), with no extra program
        started. libc is looked up here, in the parent, never in the forked child."""
        setns = _libc().setns

        def join() -> None:
            for descriptor, flag in zip(descriptors, (CLONE_NEWUSER, CLONE_NEWNET), strict=True):
                if setns(descriptor, flag) != 0:
                    message = _failed("simsage: cannot join the job's private network")
                    os.write(2, (message + "\n").encode())
                    os._exit(125)

        return join

    def close(self) -> None:
        """Let the holder go (the namespace ends when its last host has ended)."""
        with contextlib.suppress(OSError):
            self.holder.stdin.close()
        try:
            self.holder.wait(2)
        except subprocess.TimeoutExpired:
            self.holder.kill()
            self.holder.wait()
        with contextlib.suppress(OSError):
            self.holder.stdout.close()


def _read_line(stream, timeout: float) -> str:
    """One line from a pipe, or what came before ``timeout``/EOF."""
    deadline = time.monotonic() + timeout
    data = b""
    fd = stream.fileno()
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").strip()


# -- inside the processes ------------------------------------------------------------------


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _failed(what: str) -> str:
    return f"{what}: {os.strerror(ctypes.get_errno())}"


def _hold() -> int:
    """The holder: new user + network namespaces, ``lo`` up, "ready", then wait."""
    uid, gid = os.geteuid(), os.getegid()
    if _libc().unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        print(_failed("unprivileged user and network namespaces are unavailable"), flush=True)
        return 1
    try:
        # Map only our own ids (what an unprivileged process may map): files keep their
        # owners and the hosts run as the same user, without privileges.
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            request = struct.pack(_IFREQ, b"lo", 0)
            flags = struct.unpack(_IFREQ, fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | IFF_UP))
    except OSError as exc:
        print(f"could not set up the namespace: {exc}", flush=True)
        return 1
    print("ready", flush=True)
    while sys.stdin.buffer.read(4096):
        pass
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] == ["hold"]:
        return _hold()
    print("usage: python -m simsage.runtime.network hold", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
