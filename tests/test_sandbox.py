"""The sandbox's parts: cgroups v2 and v1 (on folders laid out like cgroupfs: this machine mounts v1 only), and a
command confined to a user of its own (run for real, as root)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import container
from dlnd.grading import cgroups, confine, sandbox

ROOT = Path(__file__).resolve().parent.parent
LIMITS = sandbox.Limits(memory_bytes=768 * 2 ** 20, processes=64)


def cgroupfs_v2(folder, controllers='cpuset cpu io memory hugetlb pids rdma misc'):
    """A folder laid out like the root of the unified hierarchy."""
    (folder / 'cgroup.controllers').write_text(controllers + '\n')
    (folder / 'cgroup.subtree_control').write_text('')
    (folder / 'cgroup.procs').write_text('')
    return folder


def test_cgroup_v2_limits_memory_and_processes_in_a_cgroup_of_its_own(tmp_path):
    root = cgroupfs_v2(tmp_path)
    assert cgroups.hierarchy(root) == 'v2'
    group = cgroups.Cgroups.create('submission-1', LIMITS, root)
    assert isinstance(group, cgroups.CgroupsV2) and group.folders == [root / 'dlnd-grade' / 'submission-1']
    for folder in (root, root / 'dlnd-grade'):  # each parent passes the controllers down
        assert (folder / 'cgroup.subtree_control').read_text() == '+memory +pids'
    assert (group.folder / 'memory.max').read_text() == str(768 * 2 ** 20)
    assert (group.folder / 'pids.max').read_text() == '64'
    (group.folder / 'cpu.stat').write_text('usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n')
    (group.folder / 'memory.events').write_text('low 0\nhigh 0\nmax 12\noom 0\noom_kill 0\n')
    assert group.cpu_seconds() == 2.5 and not group.memory_exceeded()  # at the limit, reclaimed: no kill
    (group.folder / 'memory.events').write_text('low 0\nhigh 0\nmax 40\noom 1\noom_kill 1\n')
    assert group.memory_exceeded()


def test_cgroup_v2_moves_the_command_in_and_kills_what_is_left(tmp_path):
    group = cgroups.Cgroups.create('submission-2', LIMITS, cgroupfs_v2(tmp_path))
    moved = subprocess.run(group.enter_command() + ['sh', '-c', 'echo $$'], capture_output=True, text=True)
    assert (group.folder / 'cgroup.procs').read_text().split() == moved.stdout.split()
    (group.folder / 'cgroup.kill').write_text('')
    sleeper = subprocess.Popen(['sleep', '60'])
    (group.folder / 'cgroup.procs').write_text(f'{sleeper.pid}\n')
    group.kill_all()
    assert sleeper.wait(timeout=5) == -9 and (group.folder / 'cgroup.kill').read_text() == '1'


def test_cgroup_v2_without_the_memory_controller_is_not_used(tmp_path):
    assert cgroups.hierarchy(cgroupfs_v2(tmp_path, 'cpu io pids')) is None
    assert cgroups.Cgroups.create('x', LIMITS, tmp_path) is None


def test_cgroup_v1_has_a_folder_per_controller(tmp_path):
    for controller in ('memory', 'pids', 'cpuacct'):
        (tmp_path / controller).mkdir()
    assert cgroups.hierarchy(tmp_path) == 'v1'
    group = cgroups.Cgroups.create('submission-3', LIMITS, tmp_path)
    memory = tmp_path / 'memory' / 'dlnd-grade' / 'submission-3'
    assert (memory / 'memory.limit_in_bytes').read_text() == str(768 * 2 ** 20)
    assert (tmp_path / 'pids' / 'dlnd-grade' / 'submission-3' / 'pids.max').read_text() == '64'
    (memory / 'memory.oom_control').write_text('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n')
    (tmp_path / 'cpuacct' / 'dlnd-grade' / 'submission-3' / 'cpuacct.usage').write_text('1500000000\n')
    assert group.memory_exceeded() and group.cpu_seconds() == 1.5


PROBE = '''
import ctypes, errno, json, os, resource, socket, sys
found = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd()}
found["no_new_privs"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0]
try:
    socket.create_connection(("127.0.0.1", 9), 1)
    found["inet"] = "connected"
except OSError as e:
    found["inet"] = errno.errorcode.get(e.errno, str(e))
found["unix"] = len(socket.socketpair())
try:
    open(sys.argv[1], "a").write("x")
    found["project"] = "written"
except OSError as e:
    found["project"] = errno.errorcode.get(e.errno)
libc = ctypes.CDLL(None, use_errno=True)
made = libc.unshare(0x10000000)  # CLONE_NEWUSER: a user namespace, which any user may make on this host
found["namespace"] = "made" if made == 0 else errno.errorcode.get(ctypes.get_errno())
try:
    hoard = bytearray(2 * 2 ** 30)
    found["memory"] = "allocated"
except MemoryError:
    found["memory"] = "MemoryError"
found["data"] = resource.getrlimit(resource.RLIMIT_DATA)[0]
print(json.dumps(found))
'''


@pytest.fixture
def passable():
    """A folder under /tmp that other users may pass through (pytest's own are its user's alone)."""
    folder = Path(tempfile.mkdtemp(prefix='dlnd-test-'))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason='a user of its own needs root')
def test_a_confined_command_is_a_user_of_its_own_without_network_or_namespaces(passable):
    uid = confine.pick_user()
    try:
        scratch = passable / 'scratch'
        scratch.mkdir()
        os.chown(scratch, uid, uid)
        command = [sys.executable, '-m', 'dlnd.grading.confine', '--uid', str(uid), '--memory', str(2 ** 30),
                   '--processes', '64', '--', 'sh', '-c', 'cd "$0" && exec "$@"', str(scratch),
                   sys.executable, '-c', PROBE, str(ROOT / 'helper.py')]
        run = subprocess.run(container.command(command, docker=False), cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, 'PYTHONPATH': str(ROOT)}, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        found = json.loads(run.stdout)
    finally:
        confine.release_user(uid)
    assert found == {'uid': uid, 'gid': uid, 'groups': [], 'cwd': str(scratch), 'no_new_privs': '1',
                     'inet': 'EACCES', 'unix': 2, 'project': 'EACCES', 'namespace': 'EPERM',
                     'memory': 'MemoryError', 'data': 2 ** 30}


@pytest.mark.skipif(os.geteuid() != 0, reason='a user of its own needs root')
def test_every_process_of_the_user_is_killed_and_its_files_removed(tmp_path):
    uid = confine.pick_user()
    try:
        script = ('import os, subprocess, sys, time\n'
                  'open(f"/tmp/left-by-{os.getuid()}", "w").write("x")\n'
                  'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)\n'
                  'if os.fork() == 0:\n    os.setsid(); time.sleep(60)\n')
        subprocess.run(container.command([sys.executable, '-m', 'dlnd.grading.confine', '--uid', str(uid), '--',
                                          sys.executable, '-c', script], docker=False), cwd=ROOT, timeout=60,
                       env={**os.environ, 'PYTHONPATH': str(ROOT)})
        time.sleep(0.5)
        assert len(confine.processes_of(uid)) == 2  # in sessions of their own, outlived their parent
        assert confine.kill_user(uid) and confine.processes_of(uid) == []
        confine.remove_files_of(uid)
        assert not Path(f'/tmp/left-by-{uid}').exists()
    finally:
        confine.release_user(uid)


def test_users_are_never_handed_out_twice():
    taken = [confine.pick_user() for _ in range(20)]
    try:
        assert len(set(taken)) == 20 and all(uid in confine.USERS for uid in taken)
    finally:
        for uid in taken:
            confine.release_user(uid)


def test_the_cores_allowed_are_capped_by_the_cgroups_cpu_quota(tmp_path):
    """As a Docker container's --cpus shows it: v2's cpu.max, or v1's CFS quota, of this process's own cgroup."""
    own = {controllers: path.lstrip('/') for _, controllers, path in
           (line.split(':', 2) for line in Path('/proc/self/cgroup').read_text().splitlines())}
    cores = len(os.sched_getaffinity(0))
    assert cgroups.cores_allowed(tmp_path) == cores  # no quota to be read: all of them
    if '' in own:
        (tmp_path / own[''] / 'cpu.max').parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / own[''] / 'cpu.max').write_text('max 100000\n')
        assert cgroups.cores_allowed(tmp_path) == cores
        (tmp_path / own[''] / 'cpu.max').write_text('50000 100000\n')  # half a CPU
        assert cgroups.cores_allowed(tmp_path) == 1
    v1 = next((c for c in own if 'cpu' in c.split(',')), None)
    if v1 is not None:
        (tmp_path / own.get('', '') / 'cpu.max').unlink(missing_ok=True)
        folder = tmp_path / v1 / own[v1]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / 'cpu.cfs_period_us').write_text('100000\n')
        (folder / 'cpu.cfs_quota_us').write_text('-1\n')
        assert cgroups.cores_allowed(tmp_path) == cores
        (folder / 'cpu.cfs_quota_us').write_text('50000\n')
        assert cgroups.cores_allowed(tmp_path) == 1


@pytest.mark.skipif(sandbox.unavailable(sandbox.BUBBLEWRAP) is not None, reason='no bubblewrap here')
def test_a_python_under_tmp_runs_in_the_bubblewrap_sandbox(passable):
    """A virtual environment under /tmp (a fresh clone's .venv): the sandbox's own /tmp must not hide it."""
    venv = passable / '.venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', '--system-site-packages', str(venv)], check=True)
    script = ('import sys\nfrom dlnd.grading import sandbox\n'
              'outcome = sandbox.run([sys.executable, "-c", "import sys, numpy; print(sys.prefix)"], sandbox.Limits(),'
              ' "venv-test", {}, {"PATH": "/usr/bin:/bin"}, sandbox.BUBBLEWRAP)\n'
              'print(outcome.returncode, outcome.stdout.strip(), outcome.stderr.strip()[-300:])')
    run = subprocess.run([str(venv / 'bin' / 'python'), '-c', script], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, 'PYTHONPATH': str(ROOT)}, timeout=120)
    assert run.stdout.split()[:2] == ['0', str(venv)], run.stdout + run.stderr
