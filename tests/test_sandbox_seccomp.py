"""The OS ring's system-call filter as a program: decoded and evaluated instruction by instruction
here (a classic-BPF evaluator of the five opcodes a seccomp filter of this shape may use), for
every machine it has a table for. Its effect inside the ring is tested in test_sandbox_rings.py."""

from __future__ import annotations

import struct

import pytest

from blogtools.sandbox import seccomp

EPERM = 0x00050000 | seccomp.EPERM
ENOSYS = 0x00050000 | seccomp.ENOSYS


def evaluate(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """The filter's answer for one system call (seccomp_data packed as the kernel does)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    ops = [struct.unpack("<HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc, accumulator = 0, 0
    for _ in range(len(ops)):  # no loops in classic BPF: at most one pass
        code, jt, jf, k = ops[pc]
        if code == seccomp.LD_W_ABS:
            accumulator = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == seccomp.RET_K:
            return k
        else:
            taken = {seccomp.JEQ_K: accumulator == k, seccomp.JGE_K: accumulator >= k,
                     seccomp.JSET_K: bool(accumulator & k)}[code]
            pc += 1 + (jt if taken else jf)
        assert pc < len(ops), "a jump past the end of the program"
    raise AssertionError("the program did not return")


@pytest.mark.parametrize("machine", sorted(seccomp.TABLES))
def test_denied_calls_get_eperm_and_the_rest_is_allowed(machine):
    program = seccomp.program(machine)
    arch, numbers = seccomp.TABLES[machine]
    assert len(program) % 8 == 0 and len(program) // 8 < 256
    for name in seccomp.DENIED:
        assert evaluate(program, numbers[name], arch) == EPERM, name
    allowed = set(range(460)) - {numbers[name] for name in (*seccomp.DENIED, "clone3")}
    assert {nr: evaluate(program, nr, arch) for nr in allowed} == dict.fromkeys(allowed, seccomp.ALLOW)


@pytest.mark.parametrize("machine", sorted(seccomp.TABLES))
def test_clone3_is_enosys_and_clone_may_not_make_namespaces(machine):
    program = seccomp.program(machine)
    arch, numbers = seccomp.TABLES[machine]
    assert evaluate(program, numbers["clone3"], arch) == ENOSYS
    threads = 0x3D0F00  # glibc's pthread_create flags: VM, FS, FILES, SIGHAND, THREAD, SYSVSEM, SETTLS...
    assert evaluate(program, numbers["clone"], arch, threads) == seccomp.ALLOW
    assert evaluate(program, numbers["clone"], arch, 17) == seccomp.ALLOW  # fork: SIGCHLD only
    for flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000):
        assert evaluate(program, numbers["clone"], arch, 17 | flag) == EPERM, hex(flag)
    # the flags are read from the low 32 bits only; high bits set do not hide a CLONE_NEWUSER
    assert evaluate(program, numbers["clone"], arch, (1 << 40) | 0x10000000) == EPERM


def test_another_architecture_and_x32_are_killed():
    program = seccomp.program("x86_64")
    arch, numbers = seccomp.TABLES["x86_64"]
    assert evaluate(program, numbers["ptrace"], 0x40000003) == seccomp.KILL_PROCESS  # i386
    assert evaluate(program, 0, seccomp.TABLES["aarch64"][0]) == seccomp.KILL_PROCESS
    assert evaluate(program, 0x40000000 | 39, arch) == seccomp.KILL_PROCESS  # x32's getpid
    assert evaluate(program, 39, arch) == seccomp.ALLOW


def test_a_machine_without_a_table_is_refused():
    with pytest.raises(KeyError):
        seccomp.program("riscv64")
