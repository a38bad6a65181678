"""What the programs that run in a sandbox (dlnd.grading.learner_run, dlnd.grading.judging) share: their imports
done once before the forks, a forked child for each piece of work with its time limit and how it Ended, the
leftovers and files of one child gone before the next, and the file descriptor they hand their results back on.
Killing processes until none is left is shared with the sandbox's outside too.
"""
import dataclasses
import importlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path

RESULT_FD = 'DLND_RESULT_FD'  # the environment variable naming the descriptor a sandboxed program hands back on
FAILED = 70  # a child's exit status when its work raised (its traceback on stderr)


@dataclasses.dataclass(frozen=True)
class Ended:
    """How a forked child (a check's, a judgement's) ended: past its time limit, by a signal, or with an exit
    status."""
    seconds: float
    limit: float
    timed_out: bool = False
    signal: str = ''
    exit: int = None

    @classmethod
    def from_dict(cls, data):
        """Read back from a record (written in the learner's sandbox: it may be anything); TypeError if not one."""
        ended = cls(**data)
        if not (isinstance(ended.limit, (int, float)) and isinstance(ended.signal, str)
                and (ended.exit is None or isinstance(ended.exit, int))):
            raise TypeError('not how a child ended')
        return ended

    def in_words(self):
        if self.timed_out:
            return f'ran past its time limit of {self.limit:.0f} s and was stopped (an endless loop?)'
        if self.signal == 'SIGXCPU':
            return 'used up its CPU time and was stopped'
        if self.signal == 'SIGKILL':
            return 'was killed (at the memory limit, or by its own code)'
        if self.signal:
            return f'was ended by {self.signal}'
        if self.exit == FAILED:
            return 'failed with an error'
        return f'ended with exit status {self.exit} (sys.exit or os._exit?)'


def result_descriptor():
    """The descriptor to hand results back on (stdout when run by hand)."""
    return int(os.environ.get(RESULT_FD, 1))


def preload(names):
    """Import `names` once, before the forks, so that each child starts with them; then the grader's TensorFlow
    settings."""
    import matplotlib
    matplotlib.use('Agg')
    for name in names:
        importlib.import_module(name)
    from ..tf_setup import set_grading_defaults
    set_grading_defaults()


def kill_group(pid):
    """SIGKILL the process group `pid` leads, if it is still there."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_until_gone(pids_of, tries, pause):
    """SIGKILL every process pids_of() lists, again until it lists none (or `tries` rounds); True when none is
    left."""
    for _ in range(tries):
        pids = pids_of()
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(pause)
    return not pids_of()


def kill_leftovers(pid, alone):
    """Whatever a child (a check's, a judgement's) left running: its process group and, when this process is alone
    in its sandbox (its own PID namespace, or a user of its own), every other process it may signal: kill(-1)
    spares only the caller and the namespace's init."""
    kill_group(pid)
    if alone and os.getuid() != 0:  # for root, -1 would be every process of the machine
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:  # there was none
            pass


def clear_scratch(scratch):
    """Empty `scratch` of what the last child wrote: each child starts with an empty scratch folder (in the sandbox
    it is memory, and counts against the limit)."""
    for path in Path(scratch).iterdir():
        remove(path)


def remove(path):
    """Delete a file, a link (not what it points to) or a folder with all it holds."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def in_child(work, seconds, alone):
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
            code = FAILED
        finally:
            os._exit(code)
    ended = supervise(pid, seconds)
    kill_leftovers(pid, alone)
    return ended


def supervise(pid, seconds):
    """Wait for the child; kill it past `seconds`. How it Ended."""
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
    signalled = os.WIFSIGNALED(status)
    return Ended(seconds=round(time.monotonic() - start, 2), limit=seconds, timed_out=timed_out,
                 signal=signal.Signals(os.WTERMSIG(status)).name if signalled else '',
                 exit=None if signalled else os.WEXITSTATUS(status))


def exit_now(code):
    """How the programs run in the sandbox end: without Python's and TensorFlow's teardown (half a CPU second a
    process, twice a submission). What they hand back is written before."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
