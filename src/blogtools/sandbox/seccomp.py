"""The OS ring's system-call filter: a classic BPF program (``struct sock_filter``) for bwrap's
``--seccomp FD``, built here so that no libseccomp binding is needed.

The program checks the architecture first (any other is killed, and so is x86_64's x32 ABI),
answers ``clone3`` with ENOSYS (so the C library falls back to ``clone``, whose flags a filter
can read), refuses ``clone`` with any ``CLONE_NEW*`` flag, and refuses with EPERM the calls a
unit never needs: namespaces and mounts, tracing and other processes' memory, kernel keys, BPF,
performance counters, userfaultfd, io_uring, modules, SysV shared memory and memfd (memory the
host's watchdog could not count), the clock, reboot.
"""

from __future__ import annotations

import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (little endian)
NR, ARCH, ARG0_LOW = 0, 4, 16
# BPF opcodes
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
KILL_PROCESS, ALLOW = 0x80000000, 0x7FFF0000
ENOSYS, EPERM = 38, 1
CLONE_NEW_FLAGS = 0x7E020000  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
X32_SYSCALL_BIT = 0x40000000

DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
          "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
          "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
          "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
          "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init",
          "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
          "shmget", "shmat", "memfd_create", "memfd_secret",
          "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "settimeofday", "clock_settime", "adjtimex")

# (AUDIT_ARCH_*, {name: number}) per machine; x86_64 is what these machines run, aarch64's numbers
# are the asm-generic table's.
TABLES = {
    "x86_64": (0xC000003E, {
        "clone": 56, "clone3": 435, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
        "pidfd_getfd": 438, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272,
        "setns": 308, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "open_by_handle_at": 304, "name_to_handle_at": 303, "keyctl": 250,
        "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "fanotify_init": 300,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320,
        "shmget": 29, "shmat": 30, "memfd_create": 319, "memfd_secret": 447, "reboot": 169, "swapon": 167,
        "swapoff": 168, "acct": 163, "quotactl": 179, "syslog": 103, "settimeofday": 164, "clock_settime": 227,
        "adjtimex": 159}),
    "aarch64": (0xC00000B7, {
        "clone": 220, "clone3": 435, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
        "pidfd_getfd": 438, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97,
        "setns": 268, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "open_by_handle_at": 265, "name_to_handle_at": 264, "keyctl": 219,
        "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "fanotify_init": 262,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "kexec_load": 104, "kexec_file_load": 294,
        "shmget": 194, "shmat": 196, "memfd_create": 279, "memfd_secret": 447, "reboot": 142, "swapon": 224,
        "swapoff": 225, "acct": 89, "quotactl": 60, "syslog": 116, "settimeofday": 170, "clock_settime": 112,
        "adjtimex": 171}),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes:
    """The filter for ``machine`` (this one's by default) as bytes of ``struct sock_filter``;
    KeyError for a machine with no table."""
    arch, numbers = TABLES[machine or platform.machine()]
    denied = sorted({numbers[name] for name in DENIED})
    ops = [_op(LD_W_ABS, ARCH), _op(JEQ_K, arch, jt=1), _op(RET_K, KILL_PROCESS), _op(LD_W_ABS, NR)]
    if arch == TABLES["x86_64"][0]:
        ops += [_op(JGE_K, X32_SYSCALL_BIT, jf=1), _op(RET_K, KILL_PROCESS)]
    ops += [_op(JEQ_K, numbers["clone3"], jf=1), _op(RET_K, 0x00050000 | ENOSYS),
            _op(JEQ_K, numbers["clone"], jf=3), _op(LD_W_ABS, ARG0_LOW), _op(JSET_K, CLONE_NEW_FLAGS, jt=len(denied) + 2),
            _op(LD_W_ABS, NR)]
    # each denied number jumps to the EPERM at the end; the rest falls through to ALLOW
    ops += [_op(JEQ_K, number, jt=len(denied) - i) for i, number in enumerate(denied)]
    ops += [_op(RET_K, ALLOW), _op(RET_K, 0x00050000 | EPERM)]
    return b"".join(ops)
