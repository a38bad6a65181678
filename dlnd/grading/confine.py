"""The second line of isolation, for where bubblewrap cannot start (a Docker container such as Gradescope's, a
host without user namespaces): a command run as a user of its own, its network off, its resources limited.

    python -m dlnd.grading.confine --uid U [--memory B] [--processes N] [--cpu S] [--file-bytes B] -- COMMAND...

Started as root by dlnd.grading.sandbox, it sets the command's limits (rlimits: memory, processes, CPU time, file
size, no core files; the first the OOM killer takes), drops to user and group U with no supplementary group and
no way back (no_new_privs), turns the network off with a seccomp filter (libseccomp, through pyseccomp: any
socket but a Unix one, io_uring, and new namespaces refused), then execs COMMAND. U is a user no one else has
(pick_user): everything it may write is its own scratch folder and the world-writable temporary folders, and
kill_user ends every process it has, whatever session or process group it made, before anything is judged.
"""
import argparse
import errno
import grp
import os
import pwd
import random
import resource
import socket
import stat
import sys
import threading
from pathlib import Path

from .inside import kill_until_gone, remove

USERS = range(61000, 62000)  # below 65536, which a container's user namespace may map; unlikely to be taken
WRITABLE_BY_ALL = ('/tmp', '/var/tmp', '/dev/shm')  # where a user of its own can leave files
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
                   0x00000080)  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
_taken, _lock = set(), threading.Lock()


def seccomp_module():
    """libseccomp's Python bindings: Debian's and Fedora's package where installed, else pyseccomp (the same API,
    through ctypes, for any Python)."""
    try:
        import seccomp
    except ImportError:
        import pyseccomp as seccomp
    return seccomp


def network_filter():
    """The seccomp filter: everything allowed but a socket of any family other than AF_UNIX (EACCES), io_uring
    (which opens sockets without socket()) and new namespaces (EPERM), as Docker's default profile refuses them."""
    seccomp = seccomp_module()
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.add_rule(seccomp.ERRNO(errno.EACCES), 'socket', seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    for call in ('io_uring_setup', 'clone3'):  # clone3's flags cannot be read by a filter: glibc falls back to clone
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), call)
    for call in ('unshare', 'setns'):
        rules.add_rule(seccomp.ERRNO(errno.EPERM), call)
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), 'clone', seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    return rules


def set_limits(memory_bytes, processes, cpu_seconds, file_bytes):
    """The rlimits, hard as well as soft: the command cannot raise them. Memory is RLIMIT_DATA (heap and private
    mappings), not RLIMIT_AS: TensorFlow reserves address space it never touches (docs/experiments.md)."""
    for limit, value in ((resource.RLIMIT_DATA, memory_bytes), (resource.RLIMIT_NPROC, processes),
                         (resource.RLIMIT_CPU, cpu_seconds), (resource.RLIMIT_FSIZE, file_bytes),
                         (resource.RLIMIT_CORE, 0)):
        if value is not None:
            resource.setrlimit(limit, (value, value))
    Path('/proc/self/oom_score_adj').write_text('1000')  # set as root, so the command cannot lower it


def become(uid):
    """Drop to user and group `uid` for good: no supplementary groups, no capability, no_new_privs."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--uid', type=int, required=True)
    parser.add_argument('--memory', type=int, help='bytes of heap and private mappings, per process')
    parser.add_argument('--processes', type=int, help='processes and threads of the user together')
    parser.add_argument('--cpu', type=int, help='CPU seconds, per process')
    parser.add_argument('--file-bytes', type=int, help='the largest file it may write')
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command or args.uid not in USERS:
        parser.error(f'give a COMMAND and a --uid in {USERS.start}..{USERS.stop - 1}')
    rules = network_filter()  # built as root, where the library loads; loaded last
    set_limits(args.memory, args.processes, args.cpu, args.file_bytes)
    become(args.uid)
    rules.load()  # sets no_new_privs too
    os.execvp(command[0], command)


# --- the grader's side -------------------------------------------------------------------------------

def unavailable():
    """Why this isolation cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return 'running a learner as a user of its own needs root'
    try:
        network_filter()
    except (ImportError, OSError, RuntimeError, AttributeError) as e:
        return f'no seccomp filter for the network (pip install pyseccomp; libseccomp2): {type(e).__name__}: {e}'
    return None


def pick_user():
    """A user and group id no account, group or running process has, and no other run of this grader."""
    with _lock:
        taken = _taken | {user.pw_uid for user in pwd.getpwall()} | {group.gr_gid for group in grp.getgrall()} | \
            set(users_running())
        free = [uid for uid in USERS if uid not in taken]
        if not free:
            raise RuntimeError(f'no free user id in {USERS.start}..{USERS.stop - 1}')
        uid = random.choice(free)
        _taken.add(uid)
        return uid


def release_user(uid):
    with _lock:
        _taken.discard(uid)


def users_running():
    """{real uid: [the pids of its processes]}, read from /proc/PID/status, which a process cannot hide from root
    (the owner of /proc/PID it can: a process that is not dumpable shows as root's)."""
    found = {}
    for entry in Path('/proc').glob('[0-9]*'):
        try:
            for line in (entry / 'status').read_text().splitlines():
                if line.startswith('Uid:'):
                    found.setdefault(int(line.split()[1]), []).append(int(entry.name))
                    break
        except (OSError, ValueError):
            pass
    return found


def processes_of(uid):
    return users_running().get(uid, [])


def kill_user(uid):
    """SIGKILL every process of `uid`, whatever session or group it made (a fork bomb's children appear between
    two scans; RLIMIT_NPROC bounds them, and a process being killed forks no more). True when none is left."""
    return kill_until_gone(lambda: processes_of(uid), tries=200, pause=0.01)


def cpu_seconds(uid):
    """CPU time of the user's live processes, with what each has waited for of its children's."""
    ticks = os.sysconf('SC_CLK_TCK')
    total = 0
    for pid in processes_of(uid):
        try:
            fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
        except (OSError, ValueError, IndexError):
            pass
    return total / ticks


def bytes_written(uid, scratch, most_entries=20000):
    """What `uid` holds on disk and in shared memory: its scratch folder and what it owns in the world-writable
    folders, by the blocks they take (a sparse file counts what it uses). None past `most_entries` files: counting
    them all would take too long, and so many is too much."""
    tops = [Path(scratch)]
    for folder in map(Path, WRITABLE_BY_ALL):
        try:
            tops += [p for p in folder.iterdir() if p.lstat().st_uid == uid]
        except OSError:
            pass
    total, seen, stack = 0, 0, tops
    while stack:
        path = stack.pop()
        try:
            info = path.lstat()
            seen += 1
            if seen > most_entries:
                return None
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                stack += list(path.iterdir())
        except OSError:
            pass
    return total


def remove_files_of(uid, folders=WRITABLE_BY_ALL):
    """Delete what `uid` left in the world-writable folders (its processes must be gone)."""
    for folder in map(Path, folders):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            try:
                if path.lstat().st_uid == uid:
                    remove(path)
            except OSError:
                pass


if __name__ == '__main__':
    sys.exit(main())
