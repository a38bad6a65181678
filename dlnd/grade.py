"""Grade a class: every submission in a sandbox of its own, judged where its code cannot reach.

    python -m dlnd.grade SUBMISSION... --out DIR [--workers N] [--timeout S] [--check-timeout S] [--memory GIB]
                         [--cpu S] [--no-sandbox]
    python -m dlnd.grade --gradescope-bundle autograder.zip

A SUBMISSION is a notebook, a zip made by `python -m dlnd.submit`, or a folder of them (each .ipynb or .zip
directly inside is one submission, named by its file stem). Each is graded against its own rubric (the
face-generation one or gan_variants.ipynb's, told apart by what the notebook defines) in two steps:

1. its code runs in a sandbox (dlnd.sandbox: no network, its own processes, files and memory, a clean
   environment), under the graded checks, recording what the checks ask and what its code builds
   (dlnd.learner_run, dlnd.replay);
2. a second sandbox, where no learner code runs, judges: the checks run again on the record, and the stored
   outputs are read (dlnd.review.judge, served by dlnd.judging: one judging sandbox a worker, a forked
   child a submission). Stored outputs never stand in for the graded functions.

Out: DIR/<name>/results.json (Gradescope's format), DIR/<name>/feedback.html for the learner, and
DIR/grades.csv, one row per submission. Exit 0 when every submission got its results, whatever the scores.
"""
import argparse
import concurrent.futures
import contextlib
import csv
import html
import io
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path

from . import sandbox
from .archive import unsafe_member
from .fileio import atomic_path
from .notebook import ROOT

LARGEST_NOTEBOOK = 64 * 2 ** 20
LARGEST_ZIP_MEMBERS, LARGEST_ZIP_TOTAL = 5000, 1 << 30
REFUSED = 'submission file'  # the one test of a submission that could not be graded
LONGEST_LINE = 600  # characters of a result's reason: learners' own messages can be any length
JUDGE_SECONDS = 120  # of each submission's time, kept for judging


class Refused(Exception):
    """The submission cannot be graded; the message says why, in one line."""


def refusal():
    """Why grading must not run here (no sandbox), or None."""
    reason = sandbox.unavailable()
    return None if reason is None else (f'refusing to grade: the sandbox is not available ({reason}); '
                                        'pass --no-sandbox only for code you trust')


# --- a submission's notebook -----------------------------------------------------------------------

def collect(paths):
    """[(name, path)] of every submission named on the command line (a folder: each .ipynb or .zip in it)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in ('.ipynb', '.zip') and not p.is_dir())
        else:
            found.append(path)
    named, used = [], set()
    for path in found:
        base = re.sub(r'[^\w.-]', '_', path.stem)[:100].strip('.') or 'submission'
        name, k = base, 2
        while name in used:
            name, k = f'{base}-{k}', k + 1
        used.add(name)
        named.append((name, path))
    return named


def open_submission(path, into):
    """(the notebook of a submission, copied into `into`; its rubric); Refused when it is not one of the course's
    notebooks."""
    path = Path(path)
    if not path.is_file():
        raise Refused(f'{path.name} is not a file')
    if zipfile.is_zipfile(path):
        name, data = notebook_in_zip(path)
    else:
        if path.stat().st_size > LARGEST_NOTEBOOK:
            raise Refused(f'{path.name} is {path.stat().st_size / 2 ** 20:.0f} MB, larger than a notebook can be '
                          f'({LARGEST_NOTEBOOK // 2 ** 20} MB)')
        name, data = path.name, path.read_bytes()
    rubric = check_notebook(name, data)
    target = Path(into) / (re.sub(r'[^\w.-]', '_', Path(name).name) or 'notebook.ipynb')
    target.write_bytes(data)
    return target, rubric


def notebook_in_zip(path):
    """(name, bytes) of the notebook a submission zip holds; the zip refused whole if any member is unsafe."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > LARGEST_ZIP_MEMBERS:
                raise Refused(f'{path.name} holds {len(members)} files, more than {LARGEST_ZIP_MEMBERS}')
            for member in members:
                problem = unsafe_member(member)
                if problem:
                    what = 'a member outside its folder' if problem == 'path' else 'a symbolic link'
                    raise Refused(f'{path.name} has {what} ({member.filename!r}): refused, nothing extracted')
            if sum(m.file_size for m in members) > LARGEST_ZIP_TOTAL:
                raise Refused(f'{path.name} unpacks to more than {LARGEST_ZIP_TOTAL // 2 ** 30} GB')
            notebooks = [m for m in members if m.filename.lower().endswith('.ipynb') and not m.is_dir()]
            chosen = chosen_notebook(notebooks, lambda m: m.filename)
            if chosen is None:
                raise Refused(f'{path.name} holds {"no notebook" if not notebooks else "several notebooks"} '
                              '(expected dlnd_face_generation.ipynb or gan_variants.ipynb)')
            with archive.open(chosen) as member:
                data = member.read(LARGEST_NOTEBOOK + 1)
            if len(data) > LARGEST_NOTEBOOK:
                raise Refused(f'{chosen.filename} in {path.name} is larger than a notebook can be '
                              f'({LARGEST_NOTEBOOK // 2 ** 20} MB)')
            return chosen.filename, data
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as e:
        raise Refused(f'{path.name} is not a readable zip: {e}') from None


def chosen_notebook(notebooks, name_of):
    """The submission's notebook among `notebooks`: gan_variants.ipynb (whose zip also holds the DCGAN notebook it
    reads), else dlnd_face_generation.ipynb, else the only one; None when there is no telling."""
    by_name = {Path(name_of(n)).name: n for n in notebooks}
    return by_name.get('gan_variants.ipynb') or by_name.get('dlnd_face_generation.ipynb') or \
        (notebooks[0] if len(notebooks) == 1 else None)


def check_notebook(name, data):
    """The rubric of `data`; Refused unless it is a Jupyter notebook defining one of the rubrics' functions."""
    from .review import rubric_for
    try:
        nb = json.loads(data.decode('utf-8'))
        if not isinstance(nb, dict) or not isinstance(nb.get('cells'), list) or nb.get('nbformat') != 4:
            raise ValueError('no nbformat-4 cells')
        found = rubric_for(nb)
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        raise Refused(f'{name} is not a Jupyter notebook ({type(e).__name__}: {str(e).splitlines()[0][:120]})') \
            from None
    if found is None:
        raise Refused(f'{name} is not one of the course\'s notebooks: it defines none of model_inputs, '
                      'discriminator, generator, model_loss, model_opt, fc_discriminator')
    return found


# --- grading one -----------------------------------------------------------------------------------

def project_mounts():
    """The project's code the sandboxes see (read-only): not the checkout's other files, which may hold data or
    other learners' submissions."""
    return {f'/project/{name}': ROOT / name for name in ('dlnd', 'problem_unittests.py', 'helper.py')}


def environment(threads):
    """The only variables the sandboxed processes get (dlnd.sandbox adds HOME and DLND_RESULT_FD). Float32
    whatever the CPU, so a verdict does not depend on the machine."""
    return {'PYTHONPATH': '/project', 'PYTHONDONTWRITEBYTECODE': '1', 'MPLBACKEND': 'Agg',
            'MPLCONFIGDIR': '/scratch/.matplotlib', 'TF_CPP_MIN_LOG_LEVEL': '2', 'LANG': 'C.UTF-8',
            'PATH': '/usr/bin:/bin', 'DLND_SMOKE_TEST': '1', 'DLND_MIXED_PRECISION': '0',
            'DLND_GRADE_THREADS': str(threads)}


def grade_notebook(source, limits=None, sandboxed=True, check_seconds=120, threads=None, judges=None):
    """{'refused', 'kind', 'lines': [(key, rubric line, met, reason, suggestions)], 'problems', 'seconds'} for one
    submission: its code run and recorded in one sandbox, judged in another (by `judges`, or a judge of its own),
    each with `threads` threads (all the cores by default)."""
    from .review import RUBRIC
    limits = limits or sandbox.Limits()
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix='dlnd-grade-'))
    try:
        (work / 'input').mkdir()
        try:
            notebook, rubric = open_submission(source, work / 'input')
        except Refused as e:
            return {'refused': str(e), 'kind': None, 'lines': [], 'problems': [], 'seconds': 0.0}
        judge_seconds = min(JUDGE_SECONDS, limits.wall_seconds / 4)
        threads = threads or os.cpu_count() or 1
        records, problems = _record(work, notebook, rubric, _limits(limits, limits.wall_seconds - judge_seconds),
                                    sandboxed, check_seconds, threads)
        wall = max(judge_seconds, limits.wall_seconds - (time.monotonic() - start))
        with contextlib.nullcontext(judges) if judges else Judges(limits, sandboxed, threads) as judging:
            lines, problem = judging.judge(notebook, records, wall)
        if lines is None:
            problems.append(f'the grader could not judge the records: {problem}')
            lines = [(key, line, False, 'not judged: ' + problems[-1], []) for key, line, _ in rubric]
        return {'refused': None, 'kind': 'face generation' if rubric is RUBRIC else 'GAN family', 'lines': lines,
                'problems': problems, 'seconds': round(time.monotonic() - start, 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _record(work, notebook, rubric, limits, sandboxed, check_seconds, threads):
    """Run the notebook's code under the checks in its sandbox (dlnd.learner_run): ({file name: text} of the
    records it handed back, what went wrong in lines)."""
    from .review import recorded_names
    recording = sandbox.run(
        [sys.executable, '-m', 'dlnd.learner_run', '--check-seconds', str(check_seconds), '--scratch', '/scratch',
         *(['--own-namespace'] if sandboxed else []), f'/input/{notebook.name}', *recorded_names(rubric)],
        limits, f'{work.name}-record', {**project_mounts(), '/input': work / 'input'}, environment(threads),
        sandboxed)
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
    """Judging servers (dlnd.judging), one for each thread that grades, each in a sandbox of its own where no
    learner code runs: started when a thread first needs one and again after one dies, ended together."""

    def __init__(self, limits, sandboxed, threads):
        self.limits, self.sandboxed, self.threads = limits, sandboxed, threads
        self.local, self.servers, self.lock = threading.local(), [], threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        with self.lock:
            for server in self.servers:
                server.wait()

    def judge(self, notebook, records, seconds):
        """(the judged rubric lines, None), or (None, why), for the notebook and its records ({file name: text})."""
        server = getattr(self.local, 'server', None)
        if server is None or server.process.poll() is not None:
            server = self.local.server = self._start()
        request = {'notebook': notebook.name, 'text': notebook.read_text(), 'seconds': seconds, 'records': records}
        try:
            server.stdin.write(json.dumps(request).encode() + b'\n')
            server.stdin.flush()
            reply = json.loads(server.next_result(seconds + 30))
            lines = reply.get('lines')
            if lines is not None:
                return [tuple(item) for item in lines], None
            return None, str(reply.get('failed'))
        except (OSError, ValueError, AttributeError) as e:  # it died, hung or answered nonsense: start another
            outcome, self.local.server = server.wait(), None
            why = outcome.problems(self.limits) or outcome.stderr.strip().splitlines()[-1:]
            return None, why[0] if why else f'the judging server stopped ({type(e).__name__}: {e})'

    def _start(self):
        server = sandbox.Started(
            [sys.executable, '-m', 'dlnd.judging', '--scratch', sandbox.SCRATCH,
             *(['--own-namespace'] if self.sandboxed else [])],
            replace(self.limits, cpu_seconds=10 ** 6), f'judge-{uuid.uuid4().hex[:12]}', project_mounts(),
            environment(self.threads), self.sandboxed, serving=True)
        with self.lock:
            self.servers.append(server)
        return server


# --- results ---------------------------------------------------------------------------------------

def results_json(graded):
    """Gradescope's autograder results: one test per rubric line, named by its function for graded functions."""
    if graded['refused']:
        return {'score': 0.0, 'output': graded['refused'], 'tests': [
            {'name': REFUSED, 'score': 0.0, 'max_score': 1.0, 'status': 'failed', 'output': graded['refused'],
             'visibility': 'visible'}], 'stdout_visibility': 'hidden'}
    tests = [{'name': key, 'score': 1.0 if met else 0.0, 'max_score': 1.0, 'status': 'passed' if met else 'failed',
              'output': '\n'.join([textwrap.shorten(reason, LONGEST_LINE, placeholder=' ...')]
                                   + [f'Suggestion: {s}' for s in suggestions]),
              'visibility': 'visible',
              'extra_data': {'rubric_line': line}}
             for key, line, met, reason, suggestions in graded['lines']]
    met = sum(test['score'] for test in tests)
    summary = [f'{graded["kind"]} notebook: {met:.0f} of {len(tests)} rubric lines met'] + graded['problems']
    return {'score': met, 'execution_time': graded['seconds'], 'output': '\n'.join(summary), 'tests': tests,
            'stdout_visibility': 'hidden'}


FEEDBACK_STYLE = ('body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}'
                  'li{margin:.6rem 0;list-style:none}.met b{color:#176b2c}.unmet b{color:#a4161a}'
                  '.reason{margin:.2rem 0 0 1.5rem}.suggestion{margin:.2rem 0 0 1.5rem;color:#555}'
                  '.problem{color:#a4161a}')


def feedback_html(name, results):
    """The learner's page: each rubric line met or not, its reason and the suggestions (all text escaped)."""
    e = html.escape
    items = []
    for test in results['tests']:
        reason, *suggestions = test['output'].split('\n')
        met = test['status'] == 'passed'
        line = test.get('extra_data', {}).get('rubric_line', test['name'])
        verdict = '&#10003; Meets' if met else '&#10007; Does not meet'
        items.append(f'<li class="{"met" if met else "unmet"}"><b>{verdict}</b> {e(line)}'
                     f'<div class="reason">{e(reason)}</div>'
                     + ''.join(f'<div class="suggestion">{e(s)}</div>' for s in suggestions) + '</li>')
    summary, *problems = results['output'].split('\n')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>Review of {e(name)}</title><style>{FEEDBACK_STYLE}</style></head><body>'
            f'<h1>Review of {e(name)}</h1><p id="summary">{e(summary)}</p>'
            + ''.join(f'<p class="problem">{e(p)}</p>' for p in problems)
            + f'<ul>{"".join(items)}</ul></body></html>\n')


def write_results(out, name, results):
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / 'results.json') as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    with atomic_path(folder / 'feedback.html') as tmp:
        tmp.write_text(feedback_html(name, results))


def write_grades(out, rows):
    """DIR/grades.csv: one row per submission, one column per test (1 met, 0 not)."""
    columns = list(dict.fromkeys([test['name'] for _, results in rows for test in results['tests']
                                  if test['name'] != REFUSED] + [REFUSED]))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(['submission', 'score', 'max_score', *columns, 'problems'])
    for name, results in rows:
        scores = {test['name']: test['score'] for test in results['tests']}
        problems = [results['output']] if refused(results) else results['output'].split('\n')[1:]
        writer.writerow([name, results['score'], sum(t['max_score'] for t in results['tests']),
                         *[scores.get(c, '') for c in columns], ' | '.join(problems)])
    with atomic_path(Path(out) / 'grades.csv') as tmp:
        tmp.write_text(text.getvalue())


def grade_all(submissions, out, workers, limits, sandboxed=True, check_seconds=120, progress=True):
    """Grade [(name, path)] on `workers` at a time, writing each one's results as it finishes."""
    from tqdm import tqdm
    rows = []
    threads = max(1, (os.cpu_count() or 1) // workers)  # one process a core: more threads only contend
    with Judges(limits, sandboxed, threads) as judges, concurrent.futures.ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(submissions), unit='submission', disable=not progress, file=sys.stderr) as bar:
        futures = {pool.submit(grade_notebook, path, limits, sandboxed, check_seconds, threads, judges): name
                   for name, path in submissions}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            try:
                results = results_json(future.result())
            except Exception as e:  # the grader's own failure: still a result, and the batch goes on
                results = results_json({'refused': f'the grader failed on this submission: {type(e).__name__}: {e}'})
            write_results(out, name, results)
            rows.append((name, results))
            bar.update()
    rows.sort()
    write_grades(out, rows)
    return rows


def summary(rows, seconds):
    full = sum(all(t['status'] == 'passed' for t in r['tests']) for _, r in rows)
    refusals = sum(refused(r) for _, r in rows)
    return (f'graded {len(rows)} submissions in {seconds:.0f} s ({len(rows) / max(seconds, 1e-9) * 60:.1f} a minute): '
            f'{full} met every rubric line, {len(rows) - full - refusals} did not, {refusals} refused')


def refused(results):
    return results['tests'][0]['name'] == REFUSED


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('submissions', nargs='*', help='notebooks, submission zips, or folders of them')
    parser.add_argument('--out', type=Path, help='where results.json, feedback.html and grades.csv go')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--timeout', type=float, default=600, help='wall-clock seconds for one submission')
    parser.add_argument('--check-timeout', type=float, default=120, help='wall-clock seconds for one check')
    parser.add_argument('--memory', type=float, default=3, help='GiB of memory for one submission')
    parser.add_argument('--cpu', type=float, help='CPU seconds for one submission, all its processes together '
                        '(default: twice --timeout)')
    parser.add_argument('--no-sandbox', action='store_true', help="run learners' code unconfined (trusted code only)")
    parser.add_argument('--gradescope-bundle', type=Path, metavar='ZIP', help='build a Gradescope autograder zip')
    parser.add_argument('--gradescope', type=Path, metavar='ROOT', help=argparse.SUPPRESS)  # run_autograder's step
    args = parser.parse_args(argv)
    from . import gradescope
    if args.gradescope_bundle:
        print(f'wrote {gradescope.bundle(args.gradescope_bundle)}')
        return 0
    limits = sandbox.Limits(memory_bytes=int(args.memory * 2 ** 30), wall_seconds=args.timeout,
                            cpu_seconds=int(args.cpu or args.timeout * 2))
    if args.gradescope:
        return gradescope.run(args.gradescope, limits, not args.no_sandbox, args.check_timeout)
    why_not = None if args.no_sandbox else refusal()
    if why_not:
        print(why_not, file=sys.stderr)
        return 2
    if not args.submissions or args.out is None:
        parser.error('give SUBMISSION... and --out DIR')
    submissions = collect(args.submissions)
    start = time.monotonic()
    rows = grade_all(submissions, args.out, max(1, args.workers), limits, not args.no_sandbox, args.check_timeout)
    print(summary(rows, time.monotonic() - start) + f'; results in {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
