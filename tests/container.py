"""A command run as Gradescope runs its autograder: as root in a Docker container with Docker's defaults; or, with
docker=False, on a host where only bubblewrap is missing.

    python tests/container.py COMMAND...      (as root)

What Docker's defaults take away, and how this reproduces each without Docker:
- a mount namespace of its own (unshare --mount), where every cgroup hierarchy is remounted read-only;
- Docker's default capability set (setpriv --bounding-set, and no inheritable capability): no CAP_SYS_ADMIN;
- the namespace rules of Docker's default seccomp profile (unshare, setns, clone with any CLONE_NEW* flag: EPERM;
  clone3: ENOSYS), loaded through libseccomp's bindings while still privileged, without no_new_privs, as Docker
  does. bubblewrap then stops at 'No permissions to create new namespace'.
Python may live under /root (pyenv), which is 0700 here and not in Gradescope's image (/usr/bin/python3): a
tmpfs replaces /root inside, with the Python's folder (and the checkout's, if it lies there too) bound back, so
that another user can run it.
"""
import errno
import os
import shlex
import sys
from pathlib import Path

# Docker's default capabilities (moby's oci/caps/defaults.go).
DOCKER_CAPABILITIES = ('chown', 'dac_override', 'fsetid', 'fowner', 'mknod', 'net_raw', 'setgid', 'setuid',
                       'setfcap', 'setpcap', 'net_bind_service', 'sys_chroot', 'kill', 'audit_write')
CHECKOUT = Path(__file__).resolve().parent.parent
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
                   0x00000080)


def command(argv, docker=True):
    """The argv that runs `argv` as in Gradescope's container (docker=False: only with the Python reachable)."""
    steps = ['set -e']
    if docker:
        steps += ['for m in $(findmnt -rn -o TARGET | grep "^/sys/fs/cgroup/"); do mount -o remount,bind,ro "$m"; done',
                  'mount -o remount,bind,ro /sys/fs/cgroup 2>/dev/null || true']
    kept = sorted({top for top in map(_under_root, (sys.base_prefix, CHECKOUT)) if top})
    if kept:  # /root (0700 here) replaced by an open folder holding only the Python's and the checkout's folders
        steps += [f'hold{k}=$(mktemp -d); mount --bind {shlex.quote(top)} "$hold{k}"' for k, top in enumerate(kept)]
        steps.append('mount -t tmpfs -o mode=0755 tmpfs /root')
        steps += [f'mkdir -p {shlex.quote(top)}; mount --bind "$hold{k}" {shlex.quote(top)}; umount "$hold{k}"; '
                  f'rmdir "$hold{k}"' for k, top in enumerate(kept)]
    capabilities = ','.join(['-all'] + [f'+{c}' for c in DOCKER_CAPABILITIES])
    docker_steps = (f'{shlex.quote(sys.executable)} {shlex.quote(__file__)} --seccomp -- setpriv '
                    f'--bounding-set {capabilities} --inh-caps -all -- ') if docker else ''
    steps.append('exec ' + docker_steps + ' '.join(map(shlex.quote, argv)))
    return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', '\n'.join(steps)]


def _under_root(prefix):
    """The top folder under /root that holds `prefix` (~/.pyenv), or None when it is elsewhere."""
    parts = Path(prefix).resolve().parts
    return str(Path(*parts[:3])) if parts[:2] == ('/', 'root') and len(parts) > 2 else None


def load_docker_namespace_rules():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from dlnd.grading.confine import seccomp_module
    seccomp = seccomp_module()
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.CTL_NNP, 0)  # Docker does not set no_new_privs
    for call in ('unshare', 'setns'):
        rules.add_rule(seccomp.ERRNO(errno.EPERM), call)
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), 'clone3')
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), 'clone', seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.load()


if __name__ == '__main__':
    if sys.argv[1:2] == ['--seccomp']:  # the last step inside: the filter, then the command
        load_docker_namespace_rules()
        argv = sys.argv[3:]
        os.execvp(argv[0], argv)
    os.execvp('unshare', command(sys.argv[1:]))
