"""Run a command locked down, in the strongest isolation the machine allows; what it handed back, and how it ended.

Two isolations (choose() picks the first this machine can run, in this order):
- BUBBLEWRAP: namespaces. The command sees the system's programs and libraries read-only, the folders it is
  given, read-only, a scratch folder of its own in memory (/scratch, its size capped; /tmp too), no network (an
  empty network namespace), no process outside its own PID namespace, no capability, and none of the grader's
  files; its memory and processes are capped by cgroups (v2 or v1: dlnd.grading.cgroups).
- USER, where no namespace can be made (a Docker container with Docker's defaults, as on Gradescope; a host
  without user namespaces): the command runs as a user of its own (dlnd.grading.confine), which can write only its
  scratch folder and the world-writable temporary folders and can signal only its own processes; a seccomp filter
  turns its network off; memory and processes are capped by cgroups where this process may write them, else by
  rlimits. Every process of that user is killed before run() returns, and its files removed.
NONE (--no-sandbox) runs it as a plain process group, for trusted code only.

Either way the command gets an environment of a few fixed variables, and hands back what it must on the file
descriptor named by DLND_RESULT_FD, up to a cap. The caller gets that, its exit status, its output up to a cap,
and what limit, if any, it hit; when run() returns, no process the command started is left.
"""
import dataclasses
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..notebook import ROOT
from . import confine
from .cgroups import Cgroups, hierarchy
from .inside import RESULT_FD, kill_group

BUBBLEWRAP, USER, NONE = 'bubblewrap', 'user', 'none'
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
    scratch_bytes: int = 512 * 2 ** 20  # its scratch folder (in memory, under bubblewrap)
    result_bytes: int = 256 * 2 ** 20   # what it may hand back


@dataclasses.dataclass
class Outcome:
    """How a command run in the sandbox ended."""
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
    disk_exceeded: bool = False

    def problems(self, limits):
        """What went wrong, one line each, as the learner should read it."""
        stops = [(self.timed_out, f'after {limits.wall_seconds:.0f} s, the time limit for a submission'),
                 (self.cpu_exceeded, f'after {limits.cpu_seconds} CPU seconds, the CPU-time limit for a submission'),
                 (self.memory_exceeded, f'at the memory limit of {limits.memory_bytes / 2 ** 30:.1f} GiB'),
                 (self.flooded, f'for printing more than {limits.flood_bytes // 2 ** 20} MB'),
                 (self.disk_exceeded, f'for writing more than {limits.scratch_bytes // 2 ** 20} MB of files'),
                 (self.oversized, f'for handing back more than {limits.result_bytes // 2 ** 20} MB')]
        found = [f'stopped {why}' for hit, why in stops if hit]
        if self.returncode < 0 and not found:
            found.append(f'killed by signal {signal.Signals(-self.returncode).name}')
        return found


# --- which isolation ---------------------------------------------------------------------------------

def unavailable(isolation=BUBBLEWRAP):
    """Why `isolation` cannot run here (None when it can)."""
    if isolation == BUBBLEWRAP:
        return _bubblewrap_unavailable()
    if isolation == USER:
        return _user_unavailable()
    return None


def choose(asked='auto'):
    """(the isolation to grade in, [why each stronger one cannot run here]); the isolation is None when `asked`
    cannot run (`asked` is 'auto', BUBBLEWRAP, USER or NONE; 'auto' is the first of BUBBLEWRAP, USER that can)."""
    reasons = []
    for isolation in ((BUBBLEWRAP, USER) if asked == 'auto' else (asked,)):
        reason = unavailable(isolation)
        if reason is None:
            return isolation, reasons
        reasons.append(f'{isolation}: {reason}')
    return None, reasons


def describe(isolation):
    """The isolation in one line, for results.json and the learner's feedback."""
    kind = hierarchy()
    limits = f'cgroup {kind} limits' if kind else 'rlimits (no writable cgroup here)'
    return {BUBBLEWRAP: f'isolation: bubblewrap sandbox (own namespaces, no network), {limits}',
            USER: f'isolation: a user of its own (no namespaces here), network off by seccomp, {limits}',
            NONE: "isolation: none (--no-sandbox: the learner's code ran as the grader)"}[isolation]


def _bubblewrap_unavailable():
    if shutil.which(BWRAP) is None:
        return f'bubblewrap ({BWRAP}) is not installed: apt-get install bubblewrap, or make install'
    if hierarchy() is None:
        return 'no cgroup with a memory and a pids controller is writable here (cgroup v2 or v1; run as root)'
    probe = subprocess.run([BWRAP, *_namespaces(), '--ro-bind', '/usr', '/usr', *_usr_links(), '--proc', '/proc',
                            '--dev', '/dev', 'true'], capture_output=True, text=True)
    if probe.returncode != 0:
        return f'bubblewrap cannot create namespaces here: {probe.stderr.strip() or probe.returncode}'
    return None


def _user_unavailable():
    reason = confine.unavailable()
    if reason:
        return reason
    probe = run([sys.executable, '-c', 'import dlnd.grading.learner_run'], Limits(wall_seconds=60), 'probe',
                {'/project/dlnd': ROOT / 'dlnd'}, {'PYTHONPATH': '/project', 'PATH': '/usr/bin:/bin'}, USER)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or [f'exit status {probe.returncode}'])[-1]
        return (f'a user of its own cannot run this Python and the project ({last}): every folder above them must '
                'be readable by all (o+rx), as /usr and /autograder/source are')
    return None


# --- bubblewrap --------------------------------------------------------------------------------------

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
    scratch folder in memory, /scratch, of `scratch_bytes`. The in-memory /tmp comes first, so that a Python or a
    project that lives under /tmp (a fresh clone, a virtual environment) is bound over it, not hidden by it."""
    argv = [BWRAP, *_namespaces(), '--clearenv']
    for name, value in environment.items():
        argv += ['--setenv', name, value]
    argv += ['--size', str(scratch_bytes), '--tmpfs', '/tmp', '--size', str(scratch_bytes), '--tmpfs', SCRATCH]
    for folder in SYSTEM_FOLDERS:
        if Path(folder).exists():
            argv += ['--ro-bind', folder, folder]
    argv += _usr_links()
    for folder in python_folders():
        argv += ['--ro-bind', folder, folder]
    for inside, outside in readable.items():
        argv += ['--ro-bind', str(outside), inside]
    argv += ['--proc', '/proc', '--dev', '/dev', '--chdir', SCRATCH, '--']
    return argv + list(command)


# --- a user of its own ---------------------------------------------------------------------------------

def share_with(paths, gid):
    """Let group `gid` read `paths` (folders with their files) where others may not: a submission's input is kept
    from every user but the one made for it. Nothing becomes writable."""
    for top in map(Path, paths):
        if top.stat().st_mode & stat.S_IROTH:
            continue
        for path in [top, *top.rglob('*')]:
            if not path.is_symlink():
                os.chown(path, -1, gid)
                path.chmod(path.stat().st_mode | (0o050 if path.is_dir() else 0o040))


def confine_command(uid, limits, memory_by_rlimit):
    """The prefix that runs a command as user `uid` with its network off and its rlimits (dlnd.grading.confine)."""
    return [sys.executable, '-m', 'dlnd.grading.confine', '--uid', str(uid), '--processes', str(limits.processes),
            '--cpu', str(limits.cpu_seconds), '--file-bytes', str(limits.file_bytes),
            *(['--memory', str(limits.memory_bytes)] if memory_by_rlimit else []), '--']


# --- running a command ---------------------------------------------------------------------------------

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


def run(command, limits, name, readable, environment, isolation=BUBBLEWRAP):
    """Run `command` (inside paths) with its limits in `isolation`; the Outcome."""
    return Started(command, limits, name, readable, environment, isolation).wait()


class Started:
    """`command` started with its limits, as run() starts it. With serving=True its standard input is a pipe
    (`stdin`) and what it hands back is read line by line (next_result), for a command that answers requests one
    at a time (dlnd.grading.judging); wait() then ends it."""

    def __init__(self, command, limits, name, readable, environment, isolation=BUBBLEWRAP, serving=False):
        self.limits, self.serving, self.isolation, self.outcome = limits, serving, isolation, None
        self.uid = self.cgroups = self.scratch = None
        result, handed = os.pipe()
        environment = {**environment, RESULT_FD: str(handed), 'HOME': SCRATCH, 'TMPDIR': SCRATCH}
        try:
            argv, env, cwd = self._command(command, name, readable, environment)
            self.start = time.monotonic()
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE if serving else subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                                            start_new_session=True, pass_fds=(handed,))
        except BaseException:
            os.close(result)
            self._clean_up()
            raise
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

    def _command(self, command, name, readable, environment):
        """(argv, environment, working folder) of the process to start, in this isolation."""
        limits = self.limits
        rlimits = ['prlimit', f'--cpu={limits.cpu_seconds}', f'--fsize={limits.file_bytes}', '--core=0', '--']
        if self.isolation == BUBBLEWRAP:
            self.cgroups = Cgroups.create(name, limits)
            if self.cgroups is None:
                raise RuntimeError('no writable cgroup for the bubblewrap sandbox')
            scratch_bytes = min(limits.scratch_bytes, limits.memory_bytes // 4)  # it is memory, and counts as such
            argv = self.cgroups.enter_command() + rlimits + bwrap_command(command, readable, environment,
                                                                          scratch_bytes)
            return argv, {'PATH': '/usr/bin:/bin'}, '/'
        self.scratch = tempfile.mkdtemp(prefix='dlnd-scratch-')
        outside = _outside_paths({**readable, SCRATCH: self.scratch})
        env = {**{k: outside(v) for k, v in environment.items()}, 'PATH': os.environ.get('PATH', '/usr/bin:/bin')}
        command = [outside(part) for part in command]
        if self.isolation == NONE:
            return rlimits + command, env, self.scratch
        self.uid = confine.pick_user()
        os.chown(self.scratch, self.uid, self.uid)
        share_with(readable.values(), self.uid)
        try:
            self.cgroups = Cgroups.create(name, limits)
        except OSError:  # a hierarchy this process may not delegate (a container's own cgroup): rlimits then
            self.cgroups = None
        prefix = self.cgroups.enter_command() if self.cgroups else []
        # cwd: the scratch folder is the learner's, and Python puts the working folder first on sys.path of
        # confine, which imports as root; it changes there once it is the learner.
        argv = prefix + confine_command(self.uid, limits, self.cgroups is None) + \
            ['sh', '-c', 'cd "$0" && exec "$@"', self.scratch, *command]
        return argv, env, '/'

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
        if self.uid is not None:
            confine.kill_user(self.uid)

    def cpu_seconds(self):
        """CPU time of all its processes together (0 where neither a cgroup nor a user of its own counts it)."""
        if self.cgroups:
            return self.cgroups.cpu_seconds()
        return confine.cpu_seconds(self.uid) if self.uid is not None else 0.0

    def disk_exceeded(self):
        """Whether a user of its own has written more files than its scratch folder may hold (under bubblewrap the
        folder is memory of a fixed size; a user of its own writes to the disk, and this counts it)."""
        if self.uid is None:
            return False
        written = confine.bytes_written(self.uid, self.scratch)
        return written is None or written > self.limits.scratch_bytes

    def wait(self):
        """Wait for the command (killed at its wall-clock or total CPU-time limit), then kill whatever it left and
        remove its cgroups, its user's processes and files; the Outcome (the same one when called again)."""
        if self.outcome is None:
            self.outcome = self._wait()
        return self.outcome

    def _wait(self):
        if self.serving:  # between requests: nothing of it is worth waiting for
            self.stdin.close()
            self.kill()
        timed_out = cpu_exceeded = disk_exceeded = False
        try:
            deadline, tick = self.start + self.limits.wall_seconds, 0
            while self.process.poll() is None:
                thorough, tick = tick % 5 == 0, tick + 1  # scans of /proc and of its files: every quarter second
                if time.monotonic() > deadline:
                    timed_out = True
                elif (self.cgroups or thorough) and self.cpu_seconds() > self.limits.cpu_seconds:
                    cpu_exceeded = True  # all its processes together; each alone is held by the rlimit
                elif thorough and self.disk_exceeded():
                    disk_exceeded = True
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
            if self.serving:
                os.close(self.results)
            self._clean_up()
        return Outcome(returncode=self.process.returncode, stdout=self.readers[0].text(),
                       stderr=self.readers[1].text(), seconds=time.monotonic() - self.start,
                       handed_back=b'' if self.serving else bytes(self.readers[2].kept), timed_out=timed_out,
                       memory_exceeded=memory, flooded=self.flooded.is_set(), oversized=self.oversized.is_set(),
                       cpu_exceeded=cpu_exceeded, disk_exceeded=disk_exceeded)

    def _clean_up(self):
        """Its cgroups, its user's processes and files, its scratch folder: gone."""
        if self.cgroups:
            self.cgroups.remove()
        if self.uid is not None:
            confine.kill_user(self.uid)
            confine.remove_files_of(self.uid)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self.uid is not None:
            confine.release_user(self.uid)
            self.uid = None


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
