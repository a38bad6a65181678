"""The class grader, proven from the outside: hostile and broken submissions graded in one batch, each gets its
results and nothing of theirs reaches the grader, the machine or the other submissions; learners' solutions get
the verdicts of the in-process checks; Gradescope's autograder runs in a simulated /autograder tree."""
import copy
import csv
import json
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path

import pytest

import container
from dlnd.grading import grade, sandbox
from dlnd.grading.submission import LARGEST_NOTEBOOK, open_submission
from dlnd.notebook import NOTEBOOK, read
from learner_solutions import SOLUTIONS
from test_review import with_solution, write

ROOT = Path(__file__).resolve().parent.parent
MARKER = f'dlnd-leftover-{uuid.uuid4().hex[:8]}'
SECRET = f'grader-secret-{uuid.uuid4().hex}'
OTHER_LEARNER = f'another learner wrote this {uuid.uuid4().hex}'

UNAVAILABLE = sandbox.unavailable()
pytestmark = [pytest.mark.skipif(UNAVAILABLE is not None, reason=f'no sandbox: {UNAVAILABLE}'),
              pytest.mark.usefixtures('quality_reference')]
# The project's own code and checks, which no submission may change.
PROJECT_FILES = ['problem_unittests.py', 'helper.py'] + [str(p.relative_to(ROOT)) for p in ROOT.glob('dlnd/**/*.py')]


def injected(nb, function, lines):
    """The notebook with `lines` run first in `function`'s body (its stored outputs kept)."""
    nb = copy.deepcopy(nb)
    for cell in nb['cells']:
        source = ''.join(cell['source'])
        start = source.find(f'def {function}(')
        if cell['cell_type'] == 'code' and start >= 0:
            body = source.index('\n', source.index('):', start)) + 1
            if source[body:].lstrip().startswith('"""'):  # past the docstring
                body = source.index('\n', source.index('"""', source.index('"""', body) + 3)) + 1
            cell['source'] = source[:body] + ''.join(f'    {line}\n' for line in lines) + source[body:]
            return nb
    raise AssertionError(f'no definition of {function}')


class Listener:
    """A TCP and a UDP socket on the host's loopback that must receive nothing."""

    def __init__(self):
        self.tcp = socket.create_server(('127.0.0.1', 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(('127.0.0.1', self.tcp.getsockname()[1]))
        self.port, self.received = self.tcp.getsockname()[1], []
        for server in (self.tcp, self.udp):
            server.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.listen, daemon=True)
        self.thread.start()

    def listen(self):
        while self.running:
            try:
                connection, _ = self.tcp.accept()
                self.received.append(('tcp', connection.recv(100)))
            except OSError:
                pass
            try:
                self.received.append(('udp', self.udp.recv(100)))
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.tcp.close()
        self.udp.close()


def appends_to_the_checks(text):
    """Lines that append `text` to the checks' files, found as a learner would find them (sys.modules)."""
    return ['import sys',
            "for _name in ('problem_unittests', 'dlnd.grading.rubric', 'dlnd.checks.replay', 'dlnd.grading.results'):",
            '    try:',
            f'        open(sys.modules[_name].__file__, "a").write({text!r})',
            '    except (KeyError, OSError):',
            '        pass']


def hostile_submissions(folder, port, outside_marker, other_notebook):
    reference = read(NOTEBOOK)
    one_logit_per_batch = injected(reference, 'discriminator', [*appends_to_the_checks('\nPATCHED = True\n'),
        'import sys, problem_unittests, dlnd.checks.graph_checks, dlnd.checks.replay',
        'problem_unittests.check_function = lambda name, function: []',
        'dlnd.checks.graph_checks.check = lambda condition, message: None',
        "sys._getframe(1).f_globals['check'] = lambda condition, message: None",
        "[setattr(getattr(problem_unittests, t), 'check', lambda f, s: None) for t in dir(problem_unittests) "
        "if t.startswith('test_')]",
        'dlnd.checks.replay.record = lambda *args: {"passed": True}',
        "print('Tests Passed')"])
    cell = next(c for c in one_logit_per_batch['cells'] if 'def discriminator(' in ''.join(c['source']))
    source = ''.join(cell['source'])
    # Loading the definitions switches every check of the learner's own process off, before any check runs.
    cell['source'] = ('import problem_unittests as _tests\nimport dlnd.checks.graph_checks as _checks\n'
                      '_tests.check = _checks.check = lambda condition, message: None\n'
                      + source.replace('return tf.sigmoid(logits), logits',
                                       'logits = tf.reduce_mean(logits, axis=0, keepdims=True)\n'
                                       '        return tf.sigmoid(logits), logits'))
    assert 'reduce_mean(logits' in cell['source']
    submissions = {
        'patches_the_checks': one_logit_per_batch,
        'exits_early': injected(injected(reference, 'model_inputs', ["print('Tests Passed')", 'import sys',
                                                                      'sys.exit(0)']),
                                'generator', ['import os', 'os._exit(0)']),
        'kills_its_parent': injected(reference, 'model_loss', ['import os, signal', 'os.kill(os.getppid(), 9)']),
        'loops_forever': injected(reference, 'generator', ['while True:', '    pass']),
        'memory_bomb': injected(reference, 'generator', ['hoard = bytearray(6 * 2 ** 30)']),
        'floods_its_output': injected(reference, 'train', ['import os', 'chunk = b"x" * 65536',
                                                           'while True:', '    os.write(1, chunk)']),
        'everything_else': injected(injected(injected(reference, 'model_inputs', [
            'import subprocess, sys, os',
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{MARKER}'], "
            'start_new_session=True)',
            'children = []',
            'try:',
            '    for _ in range(100000):',
            '        pid = os.fork()',
            '        if pid == 0:',
            '            import time; time.sleep(600)',
            '        children.append(pid)',
            'except OSError:',
            '    pass']), 'discriminator', [
            'import socket, os, glob',
            'for connect in (lambda: socket.create_connection(("127.0.0.1", %d), 2).sendall(b"leak"),' % port,
            '                lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", '
            '("127.0.0.1", %d))):' % port,
            '    try:',
            '        connect()',
            '    except OSError:',
            '        pass',
            'for target in (%r, "/project/helper.py", "/input/x.ipynb", %r):' % (str(outside_marker),
                                                                              str(ROOT / 'helper.py')),
            '    try:',
            '        os.makedirs(os.path.dirname(target), exist_ok=True)',
            '        open(target, "w").write("written from the sandbox")',
            '    except OSError:',
            '        pass',
            'found = [open(p, errors="replace").read() for top in ("/tmp", "/input", "/records", "/project", "/root", '
            '"/home", "/work", "/mnt", "/srv") for p in glob.glob(top + "/**/*.ipynb", recursive=True)]',
            'try:',
            '    found += [open(%r).read()]' % str(other_notebook),
            'except OSError:',
            '    pass',
            "assert False, f'home={os.environ.get(\"HOME\")} ' "
            "f'secret={os.environ.get(\"DLND_GRADER_SECRET\", \"absent\")} ' + 'files ' + "
            "repr([f[-200:] for f in found]) + ' env ' + repr(dict(os.environ))"]),
            'generator', ['raise RuntimeError("<img src=x onerror=\\"document.title=\'owned\'\\"><script>'
                          'document.title=\'owned\'</script>")']),
        'fills_its_scratch': injected(reference, 'generator', [
            'import os',
            'filled = 0',
            'try:',
            '    for k in range(8):',
            '        with open(os.path.join(os.environ["HOME"], f"fill{k}"), "wb") as fill:',
            '            for _ in range(100):',
            '                filled += fill.write(b"x" * 2 ** 20)',
            'except OSError:',
            '    pass',
            'import time',
            'time.sleep(2)  # the files stay a while',
            "raise AssertionError(f'filled={filled}')"]),
    }
    paths = {name: write(nb, folder / f'{name}.ipynb') for name, nb in submissions.items()}
    (folder / 'not_json.ipynb').write_bytes(b'\x89PNG not a notebook at all')
    (folder / 'not_ours.ipynb').write_text(json.dumps({'cells': [{'cell_type': 'code', 'source': 'print(1)',
                                                                   'outputs': []}], 'nbformat': 4}))
    with zipfile.ZipFile(folder / 'climbs_out.zip', 'w') as archive:
        archive.writestr('../../escaped.txt', 'outside')
        archive.write(NOTEBOOK, 'dlnd_face_generation.ipynb')
    with zipfile.ZipFile(folder / 'links_out.zip', 'w') as archive:
        link = zipfile.ZipInfo('dlnd_face_generation.ipynb')
        link.external_attr = 0o120777 << 16
        archive.writestr(link, '/etc/shadow')
    with open(folder / 'huge.ipynb', 'wb') as huge:
        huge.truncate(LARGEST_NOTEBOOK + 1)
    return paths


@pytest.fixture(scope='module', params=[sandbox.BUBBLEWRAP, sandbox.USER])
def hostile_batch(request, tmp_path_factory):
    """One grading run over every hostile and broken submission, with the outside observers' findings: in the
    bubblewrap sandbox, and as on a host without bubblewrap (a user of its own, cgroup limits)."""
    folder, out = tmp_path_factory.mktemp('submissions'), tmp_path_factory.mktemp('graded')
    outside_marker = tmp_path_factory.mktemp('outside') / 'marker' / 'written.txt'
    other = tmp_path_factory.mktemp('other_learner') / 'their.ipynb'
    other.write_text(OTHER_LEARNER)
    listener = Listener()
    try:
        hostile_submissions(folder, listener.port, outside_marker, other)
        environment = {**os.environ, 'DLND_GRADER_SECRET': SECRET}
        command = [sys.executable, '-m', 'dlnd', 'grade', str(folder), '--out', str(out), '--workers', '2',
                   '--timeout', '150', '--check-timeout', '10', '--memory', '1.5']
        if request.param == sandbox.USER:
            command, environment['DLND_BWRAP'] = container.command(command, docker=False), '/nonexistent/bwrap'
        before = project_files()
        run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=1200)
    finally:
        listener.close()
    leftovers = [p for p in Path('/proc').glob('[0-9]*') if MARKER in _cmdline(p)]
    return {'run': run, 'out': out, 'received': listener.received, 'marker': outside_marker, 'leftovers': leftovers,
            'isolation': request.param, 'project_changed': project_files() != before,
            'escaped': [p for p in (out.parent / 'escaped.txt', out / 'escaped.txt', folder.parent / 'escaped.txt')
                        if p.exists()]}


def project_files():
    return {name: (ROOT / name).read_bytes() for name in PROJECT_FILES}


def _cmdline(proc):
    try:
        return (proc / 'cmdline').read_bytes().decode(errors='replace')
    except OSError:
        return ''


def results_of(batch, name):
    return json.loads((batch['out'] / name / 'results.json').read_text())


def checks_of(batch, name):
    return {test['name']: test for test in results_of(batch, name)['tests']}


def test_the_batch_finishes_with_a_result_for_every_submission(hostile_batch):
    run = hostile_batch['run']
    assert run.returncode == 0, run.stderr[-3000:]
    names = {p.name for p in hostile_batch['out'].iterdir() if p.is_dir()}
    assert names == {'patches_the_checks', 'exits_early', 'kills_its_parent', 'loops_forever', 'memory_bomb',
                     'floods_its_output', 'everything_else', 'fills_its_scratch', 'not_json', 'not_ours', 'climbs_out',
                     'links_out', 'huge'}
    assert 'graded 13 submissions' in run.stdout and '13 refused' not in run.stdout
    isolation = {sandbox.BUBBLEWRAP: 'isolation: bubblewrap sandbox', sandbox.USER: 'isolation: a user of its own'}
    assert isolation[hostile_batch['isolation']] in run.stderr
    assert results_of(hostile_batch, 'exits_early')['output'].splitlines()[-1].startswith(
        isolation[hostile_batch['isolation']])
    for name in names:
        for test in results_of(hostile_batch, name)['tests']:
            assert test['output'].split('\n')[0].strip(), (name, test)
            assert len(test['output'].split('\n')[0]) < 700, (name, test['output'][:300])


def test_patching_the_checks_does_not_change_the_verdict(hostile_batch):
    found = checks_of(hostile_batch, 'patches_the_checks')
    assert not hostile_batch['project_changed']
    assert found['discriminator']['status'] == 'failed'
    assert 'one logit per image' in found['discriminator']['output'] or 'shape' in found['discriminator']['output']
    assert found['model_inputs']['status'] == found['generator']['status'] == 'passed'


def test_exiting_early_fails_the_functions_that_exit(hostile_batch):
    found = checks_of(hostile_batch, 'exits_early')
    assert found['model_inputs']['status'] == 'failed' and 'SystemExit' in found['model_inputs']['output']
    assert found['generator']['status'] == 'failed' and 'exit status 0' in found['generator']['output']
    assert found['discriminator']['status'] == 'passed'


def test_killing_its_parent_loses_only_its_own_results(hostile_batch):
    found = checks_of(hostile_batch, 'kills_its_parent')
    assert [found[name]['status'] for name in ('model_inputs', 'discriminator', 'generator')] == ['passed'] * 3
    assert all(found[name]['status'] == 'failed' for name in ('model_loss', 'model_opt', 'train'))
    assert "sandbox" in found['model_opt']['output']


def test_an_endless_loop_is_stopped_at_the_checks_time_limit(hostile_batch):
    found = checks_of(hostile_batch, 'loops_forever')
    assert found['generator']['status'] == 'failed' and 'time limit of 10 s' in found['generator']['output']
    assert found['model_inputs']['status'] == found['discriminator']['status'] == 'passed'


def test_a_memory_bomb_hits_the_memory_limit(hostile_batch):
    results = results_of(hostile_batch, 'memory_bomb')
    assert 'memory limit of 1.5 GiB' in results['output']
    found = checks_of(hostile_batch, 'memory_bomb')
    assert found['generator']['status'] == 'failed' and found['discriminator']['status'] == 'passed'


def test_a_flood_of_output_is_cut_off(hostile_batch):
    results = results_of(hostile_batch, 'floods_its_output')
    assert 'printing more than 64 MB' in results['output']
    found = checks_of(hostile_batch, 'floods_its_output')
    assert found['train']['status'] == 'failed' and found['model_opt']['status'] == 'passed'


def test_nothing_reaches_the_network_the_disk_or_the_grader(hostile_batch):
    assert hostile_batch['received'] == []
    assert not hostile_batch['marker'].exists()
    assert hostile_batch['leftovers'] == []
    assert (ROOT / 'helper.py').read_text().count('written from the sandbox') == 0
    assert not hostile_batch['project_changed']
    found = checks_of(hostile_batch, 'everything_else')
    message = found['discriminator']['output']
    assert 'an assert in your own code failed' in message and 'secret=absent' in message
    scratch = '/scratch' if hostile_batch['isolation'] == sandbox.BUBBLEWRAP else '/tmp/dlnd-scratch-'
    assert f'home={scratch}' in message
    everything = (hostile_batch['out'] / 'everything_else' / 'results.json').read_text()
    assert SECRET not in everything and OTHER_LEARNER not in everything
    assert found['model_inputs']['status'] == 'passed'  # its forks and leftovers did not stop the grading


def test_filling_the_disk_is_stopped_at_the_scratch_folders_size(hostile_batch):
    found = checks_of(hostile_batch, 'fills_its_scratch')
    assert found['generator']['status'] == 'failed' and found['discriminator']['status'] == 'passed'
    if hostile_batch['isolation'] == sandbox.BUBBLEWRAP:  # a folder in memory of a fixed size: the writes fail
        filled = int(re.search(r'filled=(\d+)', found['generator']['output'])[1])
        assert 0 < filled <= sandbox.Limits().scratch_bytes
    else:  # on the disk: counted from outside, and the command stopped
        output = results_of(hostile_batch, 'fills_its_scratch')['output']
        assert 'stopped for writing more than 512 MB of files' in output
    assert not list(Path('/tmp').glob('dlnd-scratch-*/fill*'))


def test_bad_files_are_refused_in_one_line(hostile_batch):
    expected = {'not_json': 'is not a Jupyter notebook', 'not_ours': "is not one of the course's notebooks",
                'climbs_out': 'member outside its folder', 'links_out': 'symbolic link',
                'huge': 'larger than a notebook can be'}
    for name, words in expected.items():
        results = results_of(hostile_batch, name)
        assert results['score'] == 0 and words in results['tests'][0]['output'], (name, results)
    assert hostile_batch['escaped'] == []


def test_grades_csv_has_a_row_per_submission_and_a_column_per_test(hostile_batch):
    rows = list(csv.DictReader((hostile_batch['out'] / 'grades.csv').open()))
    assert len(rows) == 13
    row = next(r for r in rows if r['submission'] == 'patches_the_checks')
    assert row['discriminator'] == '0.0' and row['model_inputs'] == '1.0' and row['max_score'] == '10.0'
    assert 'memory limit' in next(r for r in rows if r['submission'] == 'memory_bomb')['problems']


def test_the_feedback_page_renders_in_a_browser_with_the_learners_text_inert(hostile_batch, tmp_path):
    chromium = chromium_or_fail()
    page = hostile_batch['out'] / 'everything_else' / 'feedback.html'
    dom = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                          '--disable-component-update', '--no-first-run', '--disable-sync',
                          f'--user-data-dir={tmp_path / "profile"}', '--dump-dom', page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert '<title>Review of everything_else</title>' in dom  # no script of the learner's ran
    assert 'Does not meet' in dom and 'Meets' in dom and 'model_inputs returns the real-image' in dom
    assert dom.index('Does not meet') < dom.index('<details>') < dom.index('Meets')  # failed lines first, passed folded
    assert '&lt;script&gt;' in dom and '<script>' not in dom
    assert 'class="isolation">isolation: ' in dom


def chromium_or_fail():
    """The Chromium that renders the feedback pages in the tests; the test fails without one."""
    from shutil import which
    found = next((c for c in ('chromium', 'chromium-browser', 'google-chrome') if which(c)), None)
    if found is None:
        pytest.fail('no Chromium to render the feedback page: apt-get install chromium (make test does)')
    return found


# --- real submissions: the verdicts of the checks in-process, sandboxed or not -------------------------------

@pytest.mark.parametrize('style', sorted(SOLUTIONS)[:1])
def test_learner_solutions_get_the_in_process_verdicts_without_the_sandbox_too(style, tmp_path):
    import problem_unittests as tests
    from dlnd.notebook import GRADED, load_functions
    path = write(with_solution(read(NOTEBOOK), SOLUTIONS[style][0]), tmp_path / f'{style}.ipynb')
    expected = {}
    for name in GRADED:
        try:
            expected[name] = ('passed', tests.check_function(name, load_functions(tests.tf, notebook=path)[name]))
        except AssertionError as e:
            expected[name] = ('failed', str(e))
    for isolation in (sandbox.BUBBLEWRAP, sandbox.NONE):
        graded = grade.grade_notebook(path, isolation=isolation)
        found = {line.key: ('passed' if line.met else 'failed', list(line.suggestions) if line.met else line.reason)
                 for line in graded.lines if line.key in GRADED}
        assert found == expected, isolation


def test_a_judging_server_judges_request_after_request_and_is_replaced_when_it_dies(tmp_path):
    import signal
    from dlnd.grading.rubric import RUBRIC
    limits = sandbox.Limits()
    (tmp_path / 'input').mkdir()
    notebook, rubric = open_submission(NOTEBOOK, tmp_path / 'input')
    records, problems = grade._record(tmp_path, notebook, rubric, limits, sandbox.BUBBLEWRAP, 120, 2)
    assert problems == []
    with grade.Judges(limits, sandbox.BUBBLEWRAP, 2) as judges:
        lines, why = judges.judge(notebook, records, 120)
        drawn = {'digits', 'faces'}  # no trained generators here: tests/test_quality.py judges those
        assert why is None and [line.key for line in lines if line.met] == [k for k, _, _ in RUBRIC if k not in drawn]
        first = judges.local.server
        # a judgement past its time limit: that child is stopped, the server goes on
        assert judges.judge(notebook, records, 0.2) == (None, 'judging took longer than 0 s')
        assert judges.judge(notebook, records, 120) == (lines, None)
        assert judges.local.server is first and len(judges.servers) == 1
        os.killpg(first.process.pid, signal.SIGKILL)  # a server that died: the next request starts another
        first.process.wait()
        assert judges.judge(notebook, records, 120) == (lines, None)
        second = judges.local.server
        assert second is not first and len(judges.servers) == 2
        # one that dies while judging: that request fails in one line, the next goes to a new server
        threading.Timer(0.3, os.killpg, (second.process.pid, signal.SIGKILL)).start()
        assert judges.judge(notebook, records, 120) == (None, 'killed by signal SIGKILL')
        assert judges.judge(notebook, records, 120) == (lines, None) and len(judges.servers) == 3
    assert all(server.process.poll() is not None for server in judges.servers)


def test_the_cpu_time_of_all_its_processes_together_is_limited():
    burn = f'{sys.executable} -c "while True: pass"'
    limits = sandbox.Limits(cpu_seconds=2, wall_seconds=60)
    outcome = sandbox.run(['sh', '-c', f'{burn} & {burn} & wait'], limits, 'cpu-test', {}, {'PATH': '/usr/bin:/bin'})
    assert outcome.cpu_exceeded and outcome.seconds < 30, outcome
    assert outcome.problems(limits) == ['stopped after 2 CPU seconds, the CPU-time limit for a submission']


def test_without_the_sandbox_the_grader_refuses_unless_told(tmp_path):
    environment = {**os.environ, 'DLND_BWRAP': '/nonexistent/bwrap'}
    refused = subprocess.run([sys.executable, '-m', 'dlnd', 'grade', str(NOTEBOOK), '--out', str(tmp_path),
                              '--isolation', 'bubblewrap'], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert refused.returncode == 2 and 'refusing to grade: no sandbox can run here' in refused.stderr
    assert 'bubblewrap (/nonexistent/bwrap) is not installed' in refused.stderr and not any(tmp_path.iterdir())


def test_the_old_command_lines_still_grade():
    """`python -m dlnd.grade` (the layout before the subpackages) is `python -m dlnd grade`."""
    for command in (['dlnd.grade'], ['dlnd', 'grade'], ['dlnd.grading.grade']):
        shown = subprocess.run([sys.executable, '-m', *command, '--help'], cwd=ROOT, capture_output=True, text=True)
        assert shown.returncode == 0 and '--isolation' in shown.stdout, (command, shown.stderr[-500:])
