"""One submission through the Gradescope bundle at Gradescope's CPU and memory settings: its seconds, its memory
peak and its score, side by side for each setting.

    python bench/bench_gradescope.py SUBMISSION_FOLDER [--settings 0.5:768 1.0:1536] [--assignment gan-family]
                                                                                    (as root, cgroup v1)

The bundle's run_autograder runs in the simulated container (tests/container.py) inside a cgroup v1 of its own,
held to the setting's CPU share (cpu.cfs_quota_us) and memory (memory.limit_in_bytes); the peak is
memory.max_usage_in_bytes (page cache included). SUBMISSION_FOLDER is what Gradescope would unpack into
/autograder/submission (a notebook with its checkpoints/ folder, or a zip from python -m dlnd submit).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'tests')]

import container  # noqa: E402
from dlnd.grading import gradescope  # noqa: E402

CGROUP_V1 = Path('/sys/fs/cgroup')


def held(cpus, megabytes):
    """Cgroup v1 folders (cpu, memory) holding a process to `cpus` and `megabytes`, and the shell line that enters
    them."""
    name = f'dlnd-bench-{uuid.uuid4().hex[:8]}'
    folders = {kind: CGROUP_V1 / kind / name for kind in ('cpu', 'memory')}
    for folder in folders.values():
        folder.mkdir()
    (folders['cpu'] / 'cpu.cfs_period_us').write_text('100000')
    (folders['cpu'] / 'cpu.cfs_quota_us').write_text(str(int(cpus * 100000)))
    (folders['memory'] / 'memory.limit_in_bytes').write_text(str(megabytes * 2 ** 20))
    enter = '; '.join(f'echo $$ > {folder}/cgroup.procs' for folder in folders.values())
    return folders, enter


def grade_once(bundle, submission, cpus, megabytes):
    """(seconds, peak bytes, results) of one run of the bundle on the submission at that setting."""
    root = Path(tempfile.mkdtemp(prefix='autograder-'))
    root.chmod(0o755)
    folders, enter = held(cpus, megabytes)
    try:
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(root / 'source')
        shutil.copytree(submission, root / 'submission')
        command = container.command(['bash', str(root / 'source' / 'run_autograder')])
        start = time.monotonic()
        subprocess.run(['sh', '-c', f'{enter}; exec "$@"', 'sh', *command], capture_output=True, timeout=1200,
                       env={**os.environ, 'AUTOGRADER_ROOT': str(root)})
        seconds = time.monotonic() - start
        peak = int((folders['memory'] / 'memory.max_usage_in_bytes').read_text())
        return seconds, peak, json.loads((root / 'results' / 'results.json').read_text())
    finally:
        shutil.rmtree(root, ignore_errors=True)
        for folder in folders.values():
            folder.rmdir()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('submission', type=Path)
    parser.add_argument('--settings', nargs='+', default=['0.5:768', '1.0:1536'], help='CPUS:MEGABYTES each')
    parser.add_argument('--assignment', choices=gradescope.ASSIGNMENTS, default='face-generation')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder) / 'autograder.zip'
        gradescope.bundle(bundle, {'argv': ['--assignment', args.assignment]})
        print(f'{"CPU":>5} {"memory":>8} {"seconds":>8} {"peak":>9}  result')
        for setting in args.settings:
            cpus, megabytes = float(setting.split(':')[0]), int(setting.split(':')[1])
            seconds, peak, results = grade_once(bundle, args.submission, cpus, megabytes)
            failed = [t['name'] for t in results['tests'] if t['status'] != 'passed']
            print(f'{cpus:5.1f} {megabytes:6d}MB {seconds:8.1f} {peak / 2 ** 20:7.0f}MB  '
                  f'{results["output"].splitlines()[0]}' + (f' (not met: {", ".join(failed)})' if failed else ''))
            for problem in results['output'].splitlines()[1:-1]:
                print(f'{"":33}{problem}')


if __name__ == '__main__':
    sys.exit(main())
