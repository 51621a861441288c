"""Thin wrappers over the Linux kernel's isolation features, for the fork-server.

Python's standard library (3.10/3.11) has no `unshare`, `mount`, `prctl` or `capset`, so
they are called through ctypes here; the seccomp filter itself is built by libseccomp
(through `pyseccomp`) once in the server and installed in each child as a precompiled BPF
program, which costs a single `prctl` per fork.

Everything here is stdlib-only (plus `pyseccomp`, loaded lazily) because it runs inside the
small fork-server process, which must stay light.
"""

from __future__ import annotations

import ctypes
import errno
import os

# unshare(2) flags
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

_libc = ctypes.CDLL("libc.so.6", use_errno=True)  # ctypes.util would import subprocess
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def prctl(option: int, arg2: int = 0) -> None:
    _check(_libc.prctl(option, arg2, 0, 0, 0), f"prctl({option})")


def write_id_maps(outer_uid: int, outer_gid: int) -> None:
    """Map ourselves to root inside a fresh user namespace (unprivileged case)."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {outer_uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {outer_gid} 1")


def mount_points() -> list[tuple[str, int]]:
    """(mount point, flags that must be preserved on a remount) from /proc/self/mountinfo."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            target = fields[4].encode().decode("unicode_escape")
            flags = 0
            for option in fields[5].split(","):
                flags |= _OPTION_FLAGS.get(option, 0)
            points.append((target, flags))
    return points


def make_read_only(keep_writable: list[str]) -> list[str]:
    """Remount every mount point read-only except ``keep_writable`` ones; return failures."""
    failures = []
    for target, flags in mount_points():
        if any(target == w or target.startswith(w.rstrip("/") + "/") for w in keep_writable):
            continue
        try:
            mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EACCES):
                failures.append(f"{target}: {exc.strerror}")
    return failures


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets of this process."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


# Syscalls no judged program needs and that could reach outside the sandbox.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
    "chroot", "unshare", "setns", "reboot", "swapon", "swapoff", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf",
    "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "acct",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "iopl", "ioperm",
    "open_by_handle_at", "name_to_handle_at", "fsopen", "fsmount", "fsconfig", "move_mount",
    "open_tree", "mount_setattr", "quotactl", "vhangup", "syslog", "sethostname",
    "setdomainname", "lookup_dcookie", "personality", "execve", "execveat", "pidfd_getfd",
    "pidfd_send_signal", "kcmp",
)
FORK_SYSCALLS = ("fork", "vfork")
KILL_SYSCALLS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


def build_seccomp_filter(notify_forks: bool = False) -> bytes:
    """Compile the seccomp filter to BPF bytes (default allow, a deny list).

    * no new processes: fork/vfork and clone without CLONE_THREAD are refused (or, with
      ``notify_forks``, sent to a supervisor that lets only the fork-server itself through),
      clone3 answered ENOSYS so libc falls back to clone, execve denied;
    * no network: sockets of any family but AF_UNIX denied;
    * no escape: mount, namespaces, ptrace, module loading and friends denied;
    * no signals to any process (the zygote that forks the children shares their PID
      namespace; a program that signals itself is refused too).
    """
    import tempfile

    import pyseccomp as sc

    fork_action = sc.NOTIFY if notify_forks else sc.ERRNO(errno.EPERM)
    filt = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED_SYSCALLS + KILL_SYSCALLS:
        try:
            filt.add_rule(sc.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a syscall on this architecture
    for name in FORK_SYSCALLS:
        try:
            filt.add_rule(fork_action, name)
        except (RuntimeError, ValueError, OSError):
            pass
    filt.add_rule(fork_action, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    filt.add_rule(sc.ERRNO(errno.EACCES), "socket", sc.Arg(0, sc.NE, 1))  # 1 = AF_UNIX
    with tempfile.TemporaryFile() as f:
        filt.export_bpf(f)
        f.seek(0)
        return f.read()


def install_seccomp(bpf: bytes) -> None:
    """Install a precompiled BPF filter on this process (needs no_new_privs set first)."""
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.addressof(buf))
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0),
        "seccomp",
    )


# seccomp(2) with a user-notification listener: the filter is installed once, in the
# fork-server, and inherited by every child at no cost; the syscalls it sends to the listener
# (forks) are answered by a supervisor process outside the sandbox.
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
_IOC_WRITE_READ = 3 << 30


class _SeccompData(ctypes.Structure):
    _fields_ = [("nr", ctypes.c_int), ("arch", ctypes.c_uint32),
                ("instruction_pointer", ctypes.c_uint64), ("args", ctypes.c_uint64 * 6)]


class _Notif(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("data", _SeccompData)]


class _NotifResp(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("val", ctypes.c_int64), ("error", ctypes.c_int32),
                ("flags", ctypes.c_uint32)]


NOTIF_RECV = _IOC_WRITE_READ | (ctypes.sizeof(_Notif) << 16) | (ord("!") << 8) | 0
NOTIF_SEND = _IOC_WRITE_READ | (ctypes.sizeof(_NotifResp) << 16) | (ord("!") << 8) | 1


def install_seccomp_with_listener(bpf: bytes) -> int:
    """Install a filter on this process and return its notification listener fd."""
    import platform

    nr = SYS_SECCOMP.get(platform.machine())
    if nr is None:
        raise OSError(errno.ENOSYS, "seccomp listener: unknown architecture")
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.addressof(buf))
    _libc.syscall.restype = ctypes.c_long
    fd = _libc.syscall(ctypes.c_long(nr), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                       ctypes.c_long(SECCOMP_FILTER_FLAG_NEW_LISTENER),
                       ctypes.c_void_p(ctypes.addressof(prog)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp listener: {os.strerror(err)}")
    return int(fd)


def answer_notification(listener: int, allowed_pid: int) -> None:
    """Receive one notification; let it proceed only if ``allowed_pid`` made the call."""
    notif = _Notif()
    if _libc.ioctl(listener, NOTIF_RECV, ctypes.byref(notif)) != 0:
        return  # the caller died meanwhile (ENOENT) or a signal interrupted us
    resp = _NotifResp(notif.id, 0, 0, 0)
    if notif.pid == allowed_pid:
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE
    else:
        resp.error = -errno.EPERM
    _libc.ioctl(listener, NOTIF_SEND, ctypes.byref(resp))
