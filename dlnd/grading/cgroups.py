"""A submission's cgroups: its memory, its processes and its CPU time, counted and capped over all its processes.

Two layouts, one interface (Cgroups.create picks):
- cgroup v2, the unified hierarchy that Ubuntu 22.04 and later, Debian 12, Fedora and every recent systemd
  distribution mount: one folder, dlnd-grade/<name>, with memory.max, memory.swap.max and pids.max; CPU time from
  cpu.stat, an OOM kill from memory.events;
- cgroup v1, one folder per controller (memory, pids, and cpuacct where mounted).
In a Docker container /sys/fs/cgroup is read-only: there is neither, and the caller falls back to rlimits.
"""
import math
import os
import time
from pathlib import Path

from .inside import kill_until_gone

ROOT = Path(os.environ.get('DLND_CGROUP_ROOT', '/sys/fs/cgroup'))
GROUP = 'dlnd-grade'


def hierarchy(root=ROOT):
    """'v2' or 'v1' where this process may make cgroups with a memory and a pids limit, else None."""
    root = Path(root)
    if (root / 'cgroup.controllers').is_file():
        enabled = set((root / 'cgroup.controllers').read_text().split())
        return 'v2' if {'memory', 'pids'} <= enabled and os.access(root, os.W_OK) else None
    if all(os.access(root / controller, os.W_OK) for controller in ('memory', 'pids')):
        return 'v1'
    return None


def own_limits(root=ROOT):
    """[(the files, their text)] of the CPU and memory limits of this process's own cgroups, v2 and v1, that can
    be read (in a Docker container, its --cpus and --memory)."""
    try:
        lines = Path('/proc/self/cgroup').read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _, controllers, path = line.split(':', 2)
        folder = Path(root) / controllers / path.lstrip('/')  # v2's line names no controller
        for name in ('cpu.max', 'memory.max', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'memory.limit_in_bytes'):
            try:
                found.append((name, (folder / name).read_text().strip()))
            except OSError:
                pass
    return found


def cores_allowed(root=ROOT):
    """How many cores this process may use: its CPU affinity, capped by its cgroup's CPU quota where it has one
    (a Docker container's --cpus: Gradescope's half a CPU shows all the host's cores to os.cpu_count())."""
    cores = len(os.sched_getaffinity(0))
    limits = dict(own_limits(root))
    quota, period = limits.get('cpu.max', 'max 100000').split()
    if quota == 'max':
        quota, period = limits.get('cpu.cfs_quota_us', '-1'), limits.get('cpu.cfs_period_us', '100000')
    if quota not in ('max', '-1'):
        cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    return cores


def memory_allowed(root=ROOT):
    """The bytes of memory this process's cgroup may use (a Docker container's --memory); None when unlimited."""
    limits = dict(own_limits(root))
    value = limits.get('memory.max', limits.get('memory.limit_in_bytes', 'max'))
    return int(value) if value.isdigit() and int(value) < 2 ** 60 else None


class Cgroups:
    """The cgroups of one command, removed with whatever is still in them."""

    folders = ()

    @staticmethod
    def create(name, limits, root=ROOT):
        """The cgroups for `name` in whichever hierarchy the machine has; None when it has none this process may
        write."""
        kind = hierarchy(root)
        return {'v2': CgroupsV2, 'v1': CgroupsV1}[kind](name, limits, Path(root)) if kind else None

    def enter_command(self):
        """A shell prefix that moves itself into the cgroups, then runs the command."""
        moves = ' && '.join(f'echo $$ > {folder}/cgroup.procs' for folder in self.folders)
        return ['sh', '-c', f'{moves} && exec "$@"', 'sh']

    def pids(self):
        return [int(p) for folder in self.folders for p in (folder / 'cgroup.procs').read_text().split()]

    def kill_all(self):
        kill_until_gone(self.pids, tries=100, pause=0.02)

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


class CgroupsV2(Cgroups):
    """One cgroup in the unified hierarchy, below dlnd-grade/, whose controllers this enables."""

    hierarchy = 'v2'

    def __init__(self, name, limits, root):
        parent = root / GROUP
        parent.mkdir(exist_ok=True)
        for folder in (root, parent):  # a child gets a controller only if its parent passes it down
            (folder / 'cgroup.subtree_control').write_text('+memory +pids')
        self.folder = parent / name
        self.folder.mkdir(exist_ok=True)
        self.folders = [self.folder]
        (self.folder / 'memory.max').write_text(str(limits.memory_bytes))
        if (self.folder / 'memory.swap.max').exists():
            (self.folder / 'memory.swap.max').write_text('0')
        (self.folder / 'pids.max').write_text(str(limits.processes))

    def cpu_seconds(self):
        """CPU time used by everything in the cgroup (cpu.stat is there whether or not the cpu controller is)."""
        return _fields(self.folder / 'cpu.stat').get('usage_usec', 0) / 1e6

    def memory_exceeded(self):
        return _fields(self.folder / 'memory.events').get('oom_kill', 0) > 0

    def kill_all(self):
        kill = self.folder / 'cgroup.kill'  # Linux 5.14: the kernel kills them all at once
        if kill.exists():
            kill.write_text('1')
        super().kill_all()


class CgroupsV1(Cgroups):
    """A memory, a pids and (where mounted) a cpuacct cgroup of their own."""

    hierarchy = 'v1'

    def __init__(self, name, limits, root):
        controllers = ['memory', 'pids'] + (['cpuacct'] if os.access(root / 'cpuacct', os.W_OK) else [])
        self.by_controller = {c: root / c / GROUP / name for c in controllers}
        self.folders = list(self.by_controller.values())
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
        memory, pids = self.by_controller['memory'], self.by_controller['pids']
        (memory / 'memory.limit_in_bytes').write_text(str(limits.memory_bytes))
        swap = memory / 'memory.memsw.limit_in_bytes'
        if swap.exists():
            swap.write_text(str(limits.memory_bytes))
        (pids / 'pids.max').write_text(str(limits.processes))

    def cpu_seconds(self):
        """CPU time used by everything in the cgroup (0 where cpuacct is not mounted)."""
        cpuacct = self.by_controller.get('cpuacct')
        return int((cpuacct / 'cpuacct.usage').read_text()) / 1e9 if cpuacct else 0.0

    def memory_exceeded(self):
        memory = self.by_controller['memory']
        killed = _fields(memory / 'memory.oom_control').get('oom_kill')
        return killed > 0 if killed is not None else int((memory / 'memory.failcnt').read_text()) > 0


def _fields(path):
    """A flat-keyed cgroup file ('key value' lines) as {key: int}; {} when it is not there."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    return {key: int(value) for key, value in (line.split()[:2] for line in lines if len(line.split()) >= 2)
            if value.lstrip('-').isdigit()}
