"""Grade a class: every submission in a sandbox of its own, judged where its code cannot reach.

    python -m dlnd grade SUBMISSION... --out DIR [--workers N] [--timeout S] [--check-timeout S] [--memory GIB]
                         [--cpu S] [--points FILE] [--isolation auto|bubblewrap|user] [--no-sandbox]

A SUBMISSION is a notebook, a zip made by `python -m dlnd submit`, or a folder of them (each .ipynb or .zip
directly inside is one submission, named by its file stem). Each is graded against its own rubric (the
face-generation one or gan_variants.ipynb's, told apart by what the notebook defines) in two steps:

1. its code runs in a sandbox (dlnd.grading.sandbox: no network, its own processes and files, its memory capped,
   a clean environment), under the graded checks, recording what the checks ask and what its code builds
   (dlnd.grading.learner_run, dlnd.checks.replay); every process it started is gone before step 2;
2. another sandbox, where no learner code runs, judges: the checks run again on the record, the images the
   learner's trained generators drew are scored against real data (the reference file, dlnd.gan.quality), and
   the stored outputs are read (dlnd.grading.rubric.judge, served by dlnd.grading.judging: one judging sandbox a
   worker, a forked child a submission). Stored outputs never stand in for the graded functions or the quality.

The sandbox is bubblewrap where it can start, else (in a Docker container, say) a user of its own for each
step; results.json and the feedback say which. Out: DIR/<name>/results.json (Gradescope's format),
DIR/<name>/feedback.html for the learner, and DIR/grades.csv, one row per submission. Exit 0 when every
submission got its results, whatever the scores.
"""
import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from ..fileio import DataError
from ..gan.quality import Reference, load_or_build
from ..notebook import ROOT
from . import sandbox
from .cgroups import cores_allowed
from .results import Graded, Points, results_json, summary, write_grades, write_results
from .rubric import DRAWINGS, GradedLine, kind_of, recorded_names
from .submission import Refused, collect, open_submission

JUDGE_SECONDS = 120  # of each submission's time, kept for judging
REFERENCE_INSIDE = '/reference/quality_reference.npz'  # where the judges see the reference file


def refusal(asked='auto'):
    """(the isolation to grade in, None), or (None, why grading must not run here)."""
    isolation, reasons = sandbox.choose(asked)
    if isolation:
        return isolation, None
    return None, (f'refusing to grade: no sandbox can run here ({"; ".join(reasons)}); pass --no-sandbox only for '
                  'code you trust')


def quality_reference():
    """The reference file the judges score drawings against: $DLND_QUALITY_REFERENCE (the Gradescope bundle's),
    else data/quality_reference.npz, built first from the data folder; DataError if it cannot be read."""
    given = os.environ.get('DLND_QUALITY_REFERENCE')
    path = Path(given) if given else load_or_build(ROOT / 'data', log=lambda text: print(text, file=sys.stderr))
    Reference.load(path)
    return path


def reference_for(rubric):
    """The reference file if the rubric judges drawings (both notebooks' do), else None."""
    return quality_reference() if set(DRAWINGS) & set(recorded_names(rubric)) else None


def project_mounts():
    """The project's code the sandboxes see (read-only): not the checkout's other files, which may hold data or
    other learners' submissions."""
    return {f'/project/{name}': ROOT / name for name in ('dlnd', 'problem_unittests.py', 'helper.py')}


def environment(threads):
    """The only variables the sandboxed processes get (dlnd.grading.sandbox adds HOME, TMPDIR and DLND_RESULT_FD).
    Float32 whatever the CPU, so a verdict does not depend on the machine."""
    return {'PYTHONPATH': '/project', 'PYTHONDONTWRITEBYTECODE': '1', 'MPLBACKEND': 'Agg',
            'MPLCONFIGDIR': '/scratch/.matplotlib', 'TF_CPP_MIN_LOG_LEVEL': '2', 'LANG': 'C.UTF-8',
            'PATH': '/usr/bin:/bin', 'DLND_SMOKE_TEST': '1', 'DLND_MIXED_PRECISION': '0',
            'DLND_GRADE_THREADS': str(threads)}


def alone(isolation):
    """The flag that tells a sandboxed program that every other process it may signal is a leftover of its own."""
    return ['--alone'] if isolation in (sandbox.BUBBLEWRAP, sandbox.USER) else []


def grade_notebook(source, limits=None, isolation=sandbox.BUBBLEWRAP, check_seconds=120, threads=None, judges=None,
                   assignment=None, checkpoints_beside=False):
    """One submission, Graded: its code run and recorded in one sandbox, judged in another (by `judges`, or a
    judge of its own), each with `threads` threads (all the cores by default). `assignment` ('face generation' or
    'GAN family') refuses the other notebook; `checkpoints_beside` takes a notebook's trained generators from the
    folder beside it (dlnd.grading.submission.open_submission)."""
    limits = limits or sandbox.Limits()
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix='dlnd-grade-'))
    work.chmod(0o711)  # a sandbox's user may pass through to what it is shown, and list nothing
    try:
        (work / 'input').mkdir(mode=0o700)
        try:
            notebook, rubric = open_submission(source, work / 'input', assignment, checkpoints_beside)
        except Refused as e:
            return Graded(refused=str(e), isolation=sandbox.describe(isolation))
        judge_seconds = min(JUDGE_SECONDS, limits.wall_seconds / 4)
        threads = threads or cores_allowed()
        records, problems = _record(work, notebook, rubric, _limits(limits, limits.wall_seconds - judge_seconds),
                                    isolation, check_seconds, threads)
        wall = max(judge_seconds, limits.wall_seconds - (time.monotonic() - start))
        with contextlib.nullcontext(judges) if judges else \
                Judges(limits, isolation, threads, reference_for(rubric)) as judging:
            lines, problem = judging.judge(notebook, records, wall)
        if lines is None:
            problems.append(f'the grader could not judge the records: {problem}')
            lines = [GradedLine(key, line, False, 'not judged: ' + problems[-1]) for key, line, _ in rubric]
        return Graded(notebook=notebook.name, kind=kind_of(rubric), lines=lines, problems=problems,
                      seconds=round(time.monotonic() - start, 1), isolation=sandbox.describe(isolation))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _record(work, notebook, rubric, limits, isolation, check_seconds, threads):
    """Run the notebook's code under the checks in its sandbox (dlnd.grading.learner_run): ({file name: text} of
    the records it handed back, what went wrong in lines)."""
    recording = sandbox.run(
        [sys.executable, '-m', 'dlnd.grading.learner_run', '--check-seconds', str(check_seconds), '--scratch',
         sandbox.SCRATCH, *alone(isolation), f'/input/{notebook.name}', *recorded_names(rubric)],
        limits, f'{work.name}-record', {**project_mounts(), '/input': work / 'input'}, environment(threads),
        isolation)
    records = records_in(recording.handed_back)
    problems = [f"the notebook's code {p}" for p in recording.problems(limits)]
    if recording.returncode != 0 and not problems:
        problems.append(f"the sandbox running the notebook's code ended with exit status {recording.returncode}")
    return records, problems


def _limits(limits, wall_seconds):
    return replace(limits, wall_seconds=max(1.0, wall_seconds))


RECORD_NAME = re.compile(r'[a-z_]{1,40}(\.status)?\.json')


def records_in(handed_back):
    """{file name: text} of what the learner's sandbox handed back (JSON lines {name, text}); anything else is
    dropped."""
    records = {}
    for line in handed_back.split(b'\n'):
        try:
            item = json.loads(line)
            name, text = item['name'], item['text']
        except (ValueError, TypeError, KeyError, RecursionError):
            continue
        if isinstance(name, str) and isinstance(text, str) and RECORD_NAME.fullmatch(name):
            records[name] = text
    return records


class Judges:
    """Judging servers (dlnd.grading.judging), one for each thread that grades, each in a sandbox of its own where
    no learner code runs: started when a thread first needs one and again after one dies, ended together."""

    def __init__(self, limits, isolation, threads, reference=None):
        """`reference`: the quality reference file (quality_reference()); None: the drawings are not judged."""
        self.limits, self.isolation, self.threads, self.reference = limits, isolation, threads, reference
        self.local, self.servers, self.lock = threading.local(), [], threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        with self.lock:
            for server in self.servers:
                server.wait()

    def judge(self, notebook, records, seconds):
        """([GradedLine], None), or (None, why), for the notebook and its records ({file name: text})."""
        server = getattr(self.local, 'server', None)
        if server is None or server.process.poll() is not None:
            server = self.local.server = self._start()
        request = {'notebook': notebook.name, 'text': notebook.read_text(), 'seconds': seconds, 'records': records}
        try:
            server.stdin.write(json.dumps(request).encode() + b'\n')
            server.stdin.flush()
            reply = json.loads(server.next_result(seconds + 30))
            if reply.get('lines') is not None:
                return [GradedLine.from_dict(line) for line in reply['lines']], None
            return None, str(reply.get('failed'))
        except (OSError, ValueError, TypeError, AttributeError) as e:  # died, hung or answered nonsense: another
            outcome, self.local.server = server.wait(), None
            why = outcome.problems(self.limits) or outcome.stderr.strip().splitlines()[-1:]
            return None, why[0] if why else f'the judging server stopped ({type(e).__name__}: {e})'

    def _start(self):
        server = sandbox.Started(
            [sys.executable, '-m', 'dlnd.grading.judging', '--scratch', sandbox.SCRATCH, *alone(self.isolation)],
            replace(self.limits, cpu_seconds=10 ** 6), f'judge-{uuid.uuid4().hex[:12]}',
            {**project_mounts(), **({REFERENCE_INSIDE: self.reference} if self.reference else {})},
            {**environment(self.threads), **({'DLND_QUALITY_REFERENCE': REFERENCE_INSIDE} if self.reference else {})},
            self.isolation, serving=True)
        with self.lock:
            self.servers.append(server)
        return server


def grade_all(submissions, out, workers, limits, isolation=sandbox.BUBBLEWRAP, check_seconds=120, progress=True,
              points=Points(), reference=None):
    """Grade [(name, path)] on `workers` at a time, writing each one's results as it finishes."""
    from tqdm import tqdm
    rows = []
    threads = max(1, cores_allowed() // workers)  # one process a core: more threads only contend
    with Judges(limits, isolation, threads, reference) as judges, \
            concurrent.futures.ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(submissions), unit='submission', disable=not progress, file=sys.stderr) as bar:
        futures = {pool.submit(grade_notebook, path, limits, isolation, check_seconds, threads, judges): name
                   for name, path in submissions}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            try:
                graded = future.result()
            except Exception as e:  # the grader's own failure: still a result, and the batch goes on
                graded = Graded(refused=f'the grader failed on this submission: {type(e).__name__}: {e}')
            results = results_json(graded, points)
            write_results(out, name, results, {line.key: line.pictures for line in graded.lines})
            rows.append((name, results))
            bar.update()
    rows.sort()
    write_grades(out, rows)
    return rows


def limits_from(args):
    """The sandbox's Limits from the command line's --memory, --timeout and --cpu."""
    return sandbox.Limits(memory_bytes=int(args.memory * 2 ** 30), wall_seconds=args.timeout,
                          cpu_seconds=int(args.cpu or args.timeout * 2))


def add_limit_options(parser, timeout=600, memory=3):
    """The options grade and the Gradescope autograder share: limits, points, isolation."""
    parser.add_argument('--timeout', type=float, default=timeout, help='wall-clock seconds for one submission')
    parser.add_argument('--check-timeout', type=float, default=120, help='wall-clock seconds for one check')
    parser.add_argument('--memory', type=float, default=memory, help='GiB of memory for one submission')
    parser.add_argument('--cpu', type=float, help='CPU seconds for one submission, all its processes together '
                        '(default: twice --timeout)')
    parser.add_argument('--points', type=Path, metavar='FILE', help='what each rubric line is worth and the total, '
                        'as JSON: {"total": 100, "weights": {"faces": 2}} (default: one point a line)')
    parser.add_argument('--isolation', choices=('auto', sandbox.BUBBLEWRAP, sandbox.USER), default='auto',
                        help='bubblewrap (namespaces), user (a user of its own: where no namespace can be made), '
                        'or auto: the first of them that runs here')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('submissions', nargs='+', help='notebooks, submission zips, or folders of them')
    parser.add_argument('--out', type=Path, required=True, help='where results.json, feedback.html and grades.csv go')
    parser.add_argument('--workers', type=int, default=cores_allowed(), help='submissions graded at once '
                        '(default: the cores this process may use)')
    add_limit_options(parser)
    parser.add_argument('--no-sandbox', action='store_true', help="run learners' code unconfined (trusted code only)")
    args = parser.parse_args(argv)
    try:
        points = Points.load(args.points) if args.points else Points()
    except ValueError as e:
        parser.error(str(e))
    isolation, why_not = (sandbox.NONE, None) if args.no_sandbox else refusal(args.isolation)
    if why_not:
        print(why_not, file=sys.stderr)
        return 2
    try:
        reference = quality_reference()
    except DataError as e:
        print(f'the quality lines need the reference data: {e}', file=sys.stderr)
        return 2
    print(sandbox.describe(isolation), file=sys.stderr)
    start = time.monotonic()
    rows = grade_all(collect(args.submissions), args.out, max(1, args.workers), limits_from(args), isolation,
                     args.check_timeout, points=points, reference=reference)
    print(summary(rows, time.monotonic() - start) + f'; results in {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
