"""Run a command locked down: bubblewrap for the namespaces, cgroups for memory and processes, rlimits for time.

Inside, the command sees the system's programs and libraries read-only, the folders it is given, read-only, a
scratch folder of its own in memory (/scratch, the only place it can write, its size capped; /tmp too), no
network (its own empty network namespace), no process outside its own PID namespace, no capability, an
environment of a few fixed variables, and none of the grader's files. What it hands back it writes to the file
descriptor named by DLND_RESULT_FD, up to a cap. Outside, the caller gets that, its exit status, its output up to
a cap, and what limit, if any, it hit; when it returns, no process the command started is left (the PID
namespace dies with its first process, and whatever is left in its cgroups is killed).
"""
import dataclasses
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CGROUPS = Path('/sys/fs/cgroup')
BWRAP = os.environ.get('DLND_BWRAP', 'bwrap')
SCRATCH = '/scratch'
SYSTEM_FOLDERS = ('/usr', '/etc/alternatives', '/etc/ld.so.cache', '/etc/localtime')


@dataclasses.dataclass
class Limits:
    memory_bytes: int = 3 * 2 ** 30
    wall_seconds: float = 600
    cpu_seconds: int = 1200
    processes: int = 256
    output_bytes: int = 64 * 1024     # kept of each of stdout and stderr
    flood_bytes: int = 64 * 2 ** 20   # printing more than this stops the command
    file_bytes: int = 256 * 2 ** 20   # the largest file it may write
    scratch_bytes: int = 512 * 2 ** 20  # its scratch folder (in memory)
    result_bytes: int = 256 * 2 ** 20   # what it may hand back


@dataclasses.dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    handed_back: bytes = b''
    timed_out: bool = False
    memory_exceeded: bool = False
    flooded: bool = False
    oversized: bool = False
    cpu_exceeded: bool = False

    def problems(self, limits):
        """What went wrong, one line each, as the learner should read it."""
        found = []
        if self.timed_out:
            found.append(f'stopped after {limits.wall_seconds:.0f} s, the time limit for a submission')
        if self.cpu_exceeded:
            found.append(f'stopped after {limits.cpu_seconds} CPU seconds, the CPU-time limit for a submission')
        if self.memory_exceeded:
            found.append(f'stopped at the memory limit of {limits.memory_bytes / 2 ** 30:.1f} GiB')
        if self.flooded:
            found.append(f'stopped for printing more than {limits.flood_bytes // 2 ** 20} MB')
        if self.oversized:
            found.append(f'stopped for handing back more than {limits.result_bytes // 2 ** 20} MB')
        if self.returncode < 0 and not found:
            found.append(f'killed by signal {signal.Signals(-self.returncode).name}')
        return found


def unavailable():
    """Why the sandbox cannot run here (None when it can)."""
    if shutil.which(BWRAP) is None:
        return f'bubblewrap ({BWRAP}) is not installed: apt-get install bubblewrap, or make install'
    for controller in ('memory', 'pids'):
        if not os.access(CGROUPS / controller, os.W_OK):
            return f'the cgroup v1 {controller} controller is not writable at {CGROUPS / controller} (run as root)'
    probe = subprocess.run([BWRAP, *_namespaces(), '--ro-bind', '/usr', '/usr', *_usr_links(), '--proc', '/proc',
                            '--dev', '/dev', 'true'], capture_output=True, text=True)
    if probe.returncode != 0:
        return f'bubblewrap cannot create namespaces here: {probe.stderr.strip() or probe.returncode}'
    return None


def _namespaces():
    return ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--uid', '65534',
            '--gid', '65534', '--hostname', 'sandbox']


def _usr_links():
    """Debian's merged /usr: /bin, /lib, ... are links into it."""
    links = []
    for name in ('bin', 'sbin', 'lib', 'lib64', 'lib32'):
        path = Path('/') / name
        if path.is_symlink():
            links += ['--symlink', os.readlink(path), str(path)]
        elif path.is_dir():
            links += ['--ro-bind', str(path), str(path)]
    return links


def python_folders():
    """Where this Python and its packages live (a virtual environment, pyenv, /usr/local)."""
    import site
    folders = {sys.prefix, sys.base_prefix, *site.getsitepackages(), str(Path(sys.executable).resolve().parent)}
    return sorted(f for f in folders if not f.startswith('/usr/') and Path(f).exists())


def bwrap_command(command, readable, environment, scratch_bytes):
    """The bubblewrap command line: system and Python read-only, `readable` {inside: outside} read-only, and a
    scratch folder in memory, /scratch, of `scratch_bytes`."""
    argv = [BWRAP, *_namespaces(), '--clearenv']
    for name, value in environment.items():
        argv += ['--setenv', name, value]
    for folder in SYSTEM_FOLDERS:
        if Path(folder).exists():
            argv += ['--ro-bind', folder, folder]
    argv += _usr_links()
    for folder in python_folders():
        argv += ['--ro-bind', folder, folder]
    for inside, outside in readable.items():
        argv += ['--ro-bind', str(outside), inside]
    argv += ['--size', str(scratch_bytes), '--tmpfs', SCRATCH, '--size', str(scratch_bytes), '--tmpfs', '/tmp',
             '--proc', '/proc', '--dev', '/dev', '--chdir', SCRATCH, '--']
    return argv + list(command)


class Cgroups:
    """A memory, a pids and (where mounted) a cpuacct cgroup of their own (cgroup v1), removed with whatever is
    still in them."""

    def __init__(self, name, limits):
        controllers = ['memory', 'pids'] + (['cpuacct'] if os.access(CGROUPS / 'cpuacct', os.W_OK) else [])
        self.by_controller = {c: CGROUPS / c / 'dlnd-grade' / name for c in controllers}
        self.folders = list(self.by_controller.values())
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
        memory, pids = self.by_controller['memory'], self.by_controller['pids']
        (memory / 'memory.limit_in_bytes').write_text(str(limits.memory_bytes))
        swap = memory / 'memory.memsw.limit_in_bytes'
        if swap.exists():
            swap.write_text(str(limits.memory_bytes))
        (pids / 'pids.max').write_text(str(limits.processes))

    def enter_command(self):
        """A shell prefix that moves itself into the cgroups, then runs the command."""
        moves = ' && '.join(f'echo $$ > {folder}/cgroup.procs' for folder in self.folders)
        return ['sh', '-c', f'{moves} && exec "$@"', 'sh']

    def cpu_seconds(self):
        """CPU time used by everything in the cgroup (0 where cpuacct is not mounted)."""
        cpuacct = self.by_controller.get('cpuacct')
        return int((cpuacct / 'cpuacct.usage').read_text()) / 1e9 if cpuacct else 0.0

    def memory_exceeded(self):
        memory = self.by_controller['memory']
        killed = [line for line in (memory / 'memory.oom_control').read_text().splitlines()
                  if line.startswith('oom_kill ')]
        failures = int((memory / 'memory.failcnt').read_text())
        return (int(killed[0].split()[1]) > 0) if killed else failures > 0

    def kill_all(self):
        for _ in range(100):
            pids = [int(p) for folder in self.folders for p in (folder / 'cgroup.procs').read_text().split()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self):
        self.kill_all()
        for folder in self.folders:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


class _CappedReader(threading.Thread):
    """Reads a pipe to its end, keeping the first `keep` bytes; calls `flooded` past `limit`."""

    def __init__(self, pipe, keep, limit, flooded):
        super().__init__(daemon=True)
        self.pipe, self.keep, self.limit, self.flooded = pipe, keep, limit, flooded
        self.kept, self.total = bytearray(), 0

    def run(self):
        while chunk := self.pipe.read1(1 << 16):
            self.total += len(chunk)
            if len(self.kept) < self.keep:
                self.kept += chunk[:self.keep - len(self.kept)]
            if self.total > self.limit:
                self.flooded()
                self.limit = float('inf')

    def text(self):
        cut = '\n[... output cut at the cap]' if self.total > self.keep else ''
        return self.kept.decode('utf-8', 'replace') + cut


def run(command, limits, name, readable, environment, sandboxed=True):
    """Run `command` (inside paths) with its limits; the Outcome. sandboxed=False runs it as a plain
    process group with the same rlimits and time limit (for a machine without the sandbox)."""
    return Started(command, limits, name, readable, environment, sandboxed).wait()


class Started:
    """`command` started with its limits, as run() starts it. With serving=True its standard input is a pipe
    (`stdin`) and what it hands back is read line by line (next_result), for a command that answers requests one
    at a time (dlnd.judging); wait() then ends it."""

    def __init__(self, command, limits, name, readable, environment, sandboxed=True, serving=False):
        self.limits, self.serving, self.outcome = limits, serving, None
        rlimits = ['prlimit', f'--cpu={limits.cpu_seconds}', f'--fsize={limits.file_bytes}', '--core=0', '--']
        result, handed = os.pipe()
        environment = {**environment, 'DLND_RESULT_FD': str(handed), 'HOME': SCRATCH}
        self.cgroups = Cgroups(name, limits) if sandboxed else None
        self.scratch = None
        if sandboxed:
            scratch_bytes = min(limits.scratch_bytes, limits.memory_bytes // 4)  # it is memory, and counts as such
            argv = self.cgroups.enter_command() + rlimits + bwrap_command(command, readable, environment,
                                                                          scratch_bytes)
            env, cwd = {'PATH': '/usr/bin:/bin'}, '/'
        else:
            self.scratch = tempfile.mkdtemp(prefix='dlnd-scratch-')
            outside = _outside_paths({**readable, SCRATCH: self.scratch})
            argv = rlimits + [outside(part) for part in command]
            env = {**{k: outside(v) for k, v in environment.items()}, 'PATH': os.environ.get('PATH', '/usr/bin')}
            cwd = self.scratch
        self.start = time.monotonic()
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE if serving else subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                                            start_new_session=True, pass_fds=(handed,))
        finally:
            os.close(handed)
        self.stdin, self.results, self.pending = self.process.stdin, (result if serving else None), b''
        self.flooded, self.oversized = threading.Event(), threading.Event()
        self.readers = [_CappedReader(self.process.stdout, limits.output_bytes, limits.flood_bytes,
                                      self._stopper(self.flooded)),
                        _CappedReader(self.process.stderr, limits.output_bytes, limits.flood_bytes,
                                      self._stopper(self.flooded))]
        if not serving:
            self.readers.append(_CappedReader(os.fdopen(result, 'rb'), limits.result_bytes, limits.result_bytes,
                                              self._stopper(self.oversized)))
        for reader in self.readers:
            reader.start()

    def next_result(self, seconds):
        """The next line a serving command hands back, within `seconds` and the result cap; OSError when there is
        none."""
        deadline = time.monotonic() + seconds
        while b'\n' not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or len(self.pending) > self.limits.result_bytes:
                raise OSError('no answer in time' if left <= 0 else 'an answer over the cap')
            if select.select([self.results], [], [], left)[0]:
                chunk = os.read(self.results, 1 << 20)
                if not chunk:
                    raise OSError('it ended')
                self.pending += chunk
        line, self.pending = self.pending.split(b'\n', 1)
        return line

    def _stopper(self, event):
        def stop():
            event.set()
            self.kill()
        return stop

    def kill(self):
        kill_group(self.process.pid)
        if self.cgroups:
            self.cgroups.kill_all()

    def wait(self):
        """Wait for the command (killed at its wall-clock or total CPU-time limit), then kill whatever it left and
        remove its cgroups; the Outcome (the same one when called again)."""
        if self.outcome is None:
            self.outcome = self._wait()
        return self.outcome

    def _wait(self):
        if self.serving:  # between requests: nothing of it is worth waiting for
            self.stdin.close()
            self.kill()
        timed_out = cpu_exceeded = False
        try:
            deadline = self.start + self.limits.wall_seconds
            while self.process.poll() is None:
                if time.monotonic() > deadline:
                    timed_out = True
                elif self.cgroups and self.cgroups.cpu_seconds() > self.limits.cpu_seconds:
                    cpu_exceeded = True  # all its processes together; each alone is held by the rlimit
                else:
                    time.sleep(0.05)
                    continue
                self.kill()
                self.process.wait()
        finally:
            self.kill()  # anything it left behind
            for reader in self.readers:
                reader.join(timeout=5)
            memory = self.cgroups.memory_exceeded() if self.cgroups else False
            if self.cgroups:
                self.cgroups.remove()
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
            if self.serving:
                os.close(self.results)
        handed_back = b'' if self.serving else bytes(self.readers[2].kept)
        return Outcome(self.process.returncode, self.readers[0].text(), self.readers[1].text(),
                       time.monotonic() - self.start, handed_back, timed_out, memory, self.flooded.is_set(),
                       self.oversized.is_set(), cpu_exceeded)


def kill_group(pid):
    """SIGKILL the process group `pid` leads, if it is still there."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- inside: what the programs run in the sandbox use -----------------------------------------------

def kill_leftovers(pid, own_namespace):
    """Whatever a child (a check's, a judgement's) left running: its process group, and in the sandbox's own PID
    namespace every process but its first two (the namespace's init and this one)."""
    kill_group(pid)
    if own_namespace:
        for entry in Path('/proc').glob('[0-9]*'):
            if int(entry.name) not in (1, os.getpid()):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def clear_scratch(scratch):
    """Empty `scratch` of what the last child wrote: each child starts with an empty scratch folder (in the sandbox
    it is memory, and counts against the limit)."""
    for path in Path(scratch).iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def in_child(work, seconds, own_namespace):
    """Run work() in a forked child of its own process group, killed past `seconds`, its leftovers after it; how
    it ended (supervise)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setpgid(0, 0)
            work()
        except BaseException:
            import traceback
            traceback.print_exc()  # its last line is how the caller says what went wrong
            code = 70
        finally:
            os._exit(code)
    ended = supervise(pid, seconds)
    kill_leftovers(pid, own_namespace)
    return ended


def supervise(pid, seconds):
    """Wait for the child; kill it past `seconds`. How it ended, as a dict."""
    start, timed_out = time.monotonic(), False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > seconds:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            timed_out = True
            break
        time.sleep(0.02)
    ended = {'seconds': round(time.monotonic() - start, 2), 'timed_out': timed_out, 'limit': seconds}
    if os.WIFSIGNALED(status):
        ended['signal'] = signal.Signals(os.WTERMSIG(status)).name
    else:
        ended['exit'] = os.WEXITSTATUS(status)
    return ended


def exit_now(code):
    """How the programs run in the sandbox end: without Python's and TensorFlow's teardown (half a CPU second a
    process, twice a submission). What they hand back is written before."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _outside_paths(mounts):
    """For a run without the sandbox: a function turning an inside path into the folder it stands for."""
    def outside(text):
        for inside, folder in sorted(mounts.items(), key=lambda item: -len(item[0])):
            if text == inside or text.startswith(inside + '/'):
                return str(folder) + text[len(inside):]
        for inside, folder in mounts.items():  # the folder above mounts, such as /project above /project/dlnd
            below = inside[len(text) + 1:]
            if inside.startswith(text + '/') and str(folder).endswith('/' + below):
                return str(folder)[:-len(below) - 1]
        return text
    return outside
