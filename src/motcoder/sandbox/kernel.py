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
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


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


SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
MNT_DETACH = 2
# statvfs flags that a bind mount's remount must keep (locked inside a user namespace).
_LOCKED_STATVFS_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME


def pivot_root(new_root: str, put_old: str) -> None:
    import platform

    nr = SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise OSError(errno.ENOSYS, "pivot_root: unknown architecture")
    _libc.syscall.restype = ctypes.c_long
    _check(_libc.syscall(ctypes.c_long(nr), new_root.encode(), put_old.encode()),
           "pivot_root")


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def bind_read_only(source: str, target: str, extra: int = MS_NOSUID | MS_NODEV) -> None:
    """Bind ``source`` on ``target`` (both existing, of the same kind), then make that mount
    read-only, keeping the flags the source's mount has (they are locked in a user
    namespace) and adding ``extra``."""
    mount(source, target, None, MS_BIND)
    kept = os.statvfs(source).f_flag & _LOCKED_STATVFS_FLAGS
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept | extra)


# Capabilities a fork-server keeps when programs run under ids of their own: to hand a run
# its directory (chown) and clean it up after (override, owner), to switch the child's ids,
# and to kill a child of another id at its deadline. Every other one is dropped; the
# children lose all of them when they take their unprivileged ids.
CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID = 0, 1, 3, 5, 6, 7
SERVER_CAPABILITIES = (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID,
                       CAP_SETUID)


# System V IPC: commands of shmctl/semctl/msgctl.
IPC_RMID, IPC_INFO = 0, 3
# SHM_STAT_ANY, SEM_STAT_ANY, MSG_STAT_ANY (Linux 4.17+): an object's id whatever its mode.
SYSV_STAT = {"shmctl": 15, "semctl": 20, "msgctl": 13}


def remove_sysv_objects(owner: int = -1) -> int:
    """Remove every System V shared memory segment, semaphore set and message queue of this
    IPC namespace (the sandbox's own), acting as ``owner`` (their creator's id) when given;
    return how many there were."""
    if owner >= 0:
        os.seteuid(owner)  # the saved id stays 0: the capabilities come back below
        try:
            return remove_sysv_objects()
        finally:
            os.seteuid(0)
    removed = 0
    info = ctypes.create_string_buffer(512)  # large enough for any of the *info structs
    for name, stat_cmd in SYSV_STAT.items():
        call = getattr(_libc, name)
        if name == "semctl":
            highest = call(0, 0, IPC_INFO, info)
        else:
            highest = call(0, IPC_INFO, info)
        for index in range(max(-1, highest) + 1):
            ident = call(index, 0, stat_cmd, info) if name == "semctl" else \
                call(index, stat_cmd, info)
            if ident >= 0:
                if name == "semctl":
                    call(ident, 0, IPC_RMID, None)
                else:
                    call(ident, IPC_RMID, None)
                removed += 1
    return removed


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities(keep: tuple[int, ...] = ()) -> None:
    """Clear the effective, permitted and inheritable capability sets of this process, but
    for the capabilities ``keep`` (effective and permitted)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    for cap in keep:
        data[cap // 32].effective |= 1 << (cap % 32)
        data[cap // 32].permitted |= 1 << (cap % 32)
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


# The seccomp policy is an allow-list (the default answer is ENOSYS, so libraries that probe
# for a newer call fall back as on an older kernel): what CPython, its standard library and
# common numeric packages need to run a program, read and write files it already may open,
# use threads and wait. Everything else is refused, including io_uring and AIO, SysV IPC,
# POSIX message queues, memfd_create, sockets (but a connected AF_UNIX stream pair, which
# asyncio needs), mount/namespaces/ptrace/modules/keys/bpf/perf, execve, and signals to any
# process. Calls that act on another process (limits, priority, affinity, scheduling) are
# allowed only on the caller itself (pid argument 0).
ALLOWED_SYSCALLS = (
    # files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "close", "close_range", "creat", "lseek",
    "_llseek", "stat", "fstat", "lstat", "newfstatat", "fstatat64", "stat64", "fstat64",
    "lstat64", "statx", "statfs", "fstatfs", "statfs64", "fstatfs64", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir",
    "fchdir", "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "unlink",
    "unlinkat", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "flock", "fadvise64",
    "readahead", "umask", "utime", "utimes", "utimensat", "futimesat", "dup", "dup2", "dup3",
    "pipe", "pipe2", "sendfile", "sendfile64", "splice", "tee", "copy_file_range", "getxattr",
    "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "inotify_init",
    "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "eventfd", "eventfd2",
    "timerfd_create", "timerfd_settime", "timerfd_gettime", "signalfd", "signalfd4",
    # waiting on descriptors
    "poll", "ppoll", "select", "_newselect", "pselect6", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    # memory
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore",
    "membarrier",
    # threads, synchronisation, signals to oneself's handlers
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "set_tid_address", "rseq",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigreturn", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigsuspend", "sigaltstack", "restart_syscall", "sched_yield",
    "sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_getattr",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "getcpu",
    "getpriority",
    # time
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "getitimer", "setitimer", "alarm", "times", "pause",
    # identity and information about oneself
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "setsid", "uname", "getrusage",
    "getrlimit", "ugetrlimit", "sysinfo", "getrandom", "capget", "arch_prctl",
    # the child's own set-up before the program starts (harmless after it: without
    # capabilities a process can only give up ids, never gain them)
    "setgroups", "setresgid", "setresuid", "setgid", "setuid",
    # processes: the zygote's wait; the end
    "wait4", "waitid", "exit", "exit_group",
    # a connected pair made by socketpair (below) and the zygote's own socket
    "sendmsg", "recvmsg", "sendto", "recvfrom", "shutdown", "getsockopt", "setsockopt",
    "getsockname", "getpeername", "sendmmsg", "recvmmsg",
)
# Refused with EPERM rather than ENOSYS: the calls a judged program might try to escape,
# spy, or disturb the sandbox with (clearer in its error message than "not implemented").
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
    "chroot", "unshare", "setns", "reboot", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "bpf", "perf_event_open", "userfaultfd", "keyctl",
    "add_key", "request_key", "execve", "execveat", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "kcmp", "kill", "tkill", "tgkill", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "io_uring_setup", "io_uring_enter", "io_uring_register", "io_setup",
    "io_submit", "shmget", "shmat", "shmctl", "semget", "semop", "semtimedop", "semctl",
    "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "memfd_create", "memfd_secret",
    "socket", "connect", "bind", "listen", "accept", "accept4", "ioprio_set", "mknod",
    "mknodat", "chown", "fchown", "lchown", "fchownat", "setpgid", "vhangup", "syslog",
    "personality", "quotactl", "acct", "swapon", "swapoff", "iopl", "ioperm",
)
# Allowed only on the calling process itself (first argument 0).
SELF_ONLY_SYSCALLS = ("prlimit64", "sched_setaffinity", "sched_setparam",
                      "sched_setscheduler", "sched_setattr")
# fcntl commands allowed: all but those that make the kernel send signals or break leases
# (F_SETOWN 8, F_SETSIG 10, F_SETOWN_EX 15, F_SETLEASE 1024, F_NOTIFY 1026).
FCNTL_ALLOWED = (0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 16, 36, 37, 38, 1025, 1030, 1031,
                 1032, 1033, 1034)
# ioctl commands allowed: terminal queries (so isatty works), FIONREAD, FIONBIO, FIOCLEX,
# FIONCLEX, FIOASYNC excluded (it makes the kernel signal the owner).
IOCTL_ALLOWED = (0x5401, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)
# prctl options allowed: one's own death signal, name, no_new_privs; reading one's state.
PRCTL_ALLOWED = (1, 3, 15, 16, 21, 23, 38, 39, 0x53564D41)
FORK_SYSCALLS = ("fork", "vfork")
AF_UNIX = 1
SOCK_STREAM = 1
PRIO_PROCESS = 0


def build_seccomp_filter(notify_forks: bool = False) -> bytes:
    """Compile the seccomp allow-list to BPF bytes.

    * only the calls of ``ALLOWED_SYSCALLS`` and the argument-checked ones below; any other
      answers ENOSYS, the ones of ``DENIED_SYSCALLS`` EPERM;
    * no new processes: fork/vfork and clone without CLONE_THREAD are refused (or, with
      ``notify_forks``, sent to a supervisor that lets only the fork-server itself through),
      clone3 answered ENOSYS so libc falls back to clone, execve denied;
    * no sockets but a connected AF_UNIX stream pair (a stream socket ignores a destination
      address, so nothing on the host can be reached through it);
    * no signals to any process (the zygote that forks the children shares their PID
      namespace; a program that signals itself is refused too), and no fcntl/ioctl that
      makes the kernel signal one;
    * limits, priority, affinity and scheduling of the caller only.
    """
    import tempfile

    import pyseccomp as sc

    fork_action = sc.NOTIFY if notify_forks else sc.ERRNO(errno.EPERM)
    filt = sc.SyscallFilter(defaction=sc.ERRNO(errno.ENOSYS))

    def add(action: object, name: str, *args: object) -> None:
        try:
            filt.add_rule(action, name, *args)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: not a syscall on this architecture
                raise

    for name in ALLOWED_SYSCALLS:
        add(sc.ALLOW, name)
    for name in DENIED_SYSCALLS:
        add(sc.ERRNO(errno.EPERM), name)
    for name in SELF_ONLY_SYSCALLS:
        add(sc.ALLOW, name, sc.Arg(0, sc.EQ, 0))
    add(sc.ALLOW, "setpriority", sc.Arg(0, sc.EQ, PRIO_PROCESS), sc.Arg(1, sc.EQ, 0))
    for cmd in FCNTL_ALLOWED:
        add(sc.ALLOW, "fcntl", sc.Arg(1, sc.EQ, cmd))
        add(sc.ALLOW, "fcntl64", sc.Arg(1, sc.EQ, cmd))
    for cmd in IOCTL_ALLOWED:
        add(sc.ALLOW, "ioctl", sc.Arg(1, sc.EQ, cmd))
    for option in PRCTL_ALLOWED:
        add(sc.ALLOW, "prctl", sc.Arg(0, sc.EQ, option))
    add(sc.ALLOW, "socketpair", sc.Arg(0, sc.EQ, AF_UNIX),
        sc.Arg(1, sc.MASKED_EQ, 0xF, SOCK_STREAM))
    for name in FORK_SYSCALLS:
        add(fork_action, name)
    add(sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, CLONE_THREAD))
    add(fork_action, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    # clone3 is not listed: it answers ENOSYS (the default) and libc falls back to clone.
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
