"""The package's layout: each part imports only what lies below it, the old module names still work, and one
command line reaches every tool."""
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import dlnd

ROOT = Path(__file__).resolve().parent.parent
TOP = {'notebook', 'fileio', 'tf_setup', 'hosted'}
# What each part may import, besides itself and the modules at the top of dlnd/.
MAY_IMPORT = {'data': set(), 'gan': {'data'}, 'checks': set(), 'grading': {'checks', 'gan'}, 'course': set(),
              None: set()}


def imported_parts(path, root=ROOT):
    """(the part of dlnd `path` is in, {the part of every dlnd module it imports, at any depth}); a part is a
    subpackage's name, None for the top of dlnd/."""
    part = path.parent.name if path.parent != root / 'dlnd' else None
    package = ['dlnd'] + ([part] if part else [])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            names = [base + (node.module.split('.') if node.module else [])]
            if node.module is None or (node.level and not node.module):  # from . import a, b
                names = [base + [alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split('.') for alias in node.names]
        else:
            continue
        for name in names:
            if name[:1] == ['dlnd'] and len(name) > 1:
                found.add(None if name[1] in TOP or name[1] not in MAY_IMPORT else name[1])
    return part, found


@pytest.mark.parametrize('path', sorted((ROOT / 'dlnd').rglob('*.py')), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_part_imports_only_what_lies_below_it(path):
    part, found = imported_parts(path)
    allowed = MAY_IMPORT[part] | {part, None}
    assert found <= allowed, f'{path.relative_to(ROOT)} ({part or "top"}) imports {sorted(map(str, found - allowed))}'


def test_the_architecture_check_sees_an_import_running_back_up(tmp_path):
    (tmp_path / 'dlnd' / 'data').mkdir(parents=True)
    for source, found in (('from ..grading import grade\n', {'grading'}), ('import dlnd.course.submit\n', {'course'}),
                          ('def f():\n    from .. import gan\n', {'gan'}), ('from ..fileio import x\n', {None})):
        (tmp_path / 'dlnd' / 'data' / 'probe.py').write_text(source)
        assert imported_parts(tmp_path / 'dlnd' / 'data' / 'probe.py', tmp_path) == ('data', found), source


@pytest.mark.parametrize('old', sorted(dlnd.NEW_NAMES))
def test_the_modules_old_names_are_the_modules_they_became(old):
    assert importlib.import_module(old) is importlib.import_module(dlnd.NEW_NAMES[old])


def test_one_command_line_reaches_every_tool_and_the_old_ones_still_run():
    listed = subprocess.run([sys.executable, '-m', 'dlnd', '--help'], cwd=ROOT, capture_output=True, text=True)
    assert listed.returncode == 0 and all(f'  {name} ' in listed.stdout for name in ('grade', 'review', 'submit'))
    unknown = subprocess.run([sys.executable, '-m', 'dlnd', 'grades'], cwd=ROOT, capture_output=True, text=True)
    assert unknown.returncode == 2 and "no command 'grades'" in unknown.stderr
    for command in (['dlnd', 'submit'], ['dlnd.submit'], ['dlnd', 'gradescope'], ['dlnd', 'evaluate']):
        shown = subprocess.run([sys.executable, '-m', *command, '--help'], cwd=ROOT, capture_output=True, text=True)
        assert shown.returncode == 0 and 'usage' in shown.stdout + shown.stderr, (command, shown.stderr[-500:])
