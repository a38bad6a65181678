"""The compatibility run: each notebook opened alone, as on a hosted kernel, on several sets of preinstalled packages.

    python tests/compat.py [colab] [tf2.16] [newest]      # all three when none is named (make compat)

For each set, a virtual environment under build/compat/ holds exactly those packages (made once, reused while
the list is unchanged). Each notebook is copied alone into an empty folder and run top to bottom in the short
mode (DLND_SMOKE_TEST=1) with nbclient, with DLND_PROJECT_SOURCE pointing at this checkout, so its setup cell
fetches the project and installs what is missing, and DLND_DATA_SOURCE at the offline data. A table follows:
cells run, graded checks passed, packages the run replaced (must be none), TensorFlow log lines in the cells'
outputs or the kernel's own stderr (must be none). What a run installed is uninstalled before the next.
Exits 1 when any notebook failed any of those.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dlnd.notebook import NOTEBOOK, VARIANTS_NOTEBOOK  # noqa: E402
from dlnd.tf_setup import NATIVE_LOG_LINE  # noqa: E402

VENVS = ROOT / 'build' / 'compat'
RUNNER = ['nbclient==0.10.2', 'nbformat==5.10.4']  # what executes the notebook, as Jupyter does on the kernel's host
# Google's published list for Colab's current GPU runtime (Kaggle's image is built from it); tqdm as Colab has it.
RUNTIMES = {
    'colab': ['tensorflow==2.20.0', 'tf_keras==2.20.1', 'keras==3.13.2', 'numpy==2.1.3', 'scipy==1.16.3',
              'pillow==11.3.0', 'matplotlib==3.10.0', 'h5py==3.16.0', 'protobuf==5.29.6', 'ipykernel==6.17.1',
              'ipython==7.34.0', 'ipywidgets==7.7.1', 'jupyter_client==7.4.9', 'traitlets==5.7.1', 'tqdm==4.67.1'],
    # The oldest supported: no tf-keras and no tqdm, so the setup cell has to install them.
    'tf2.16': ['tensorflow==2.16.2', 'numpy==1.26.4', 'scipy==1.13.1', 'pillow==10.4.0', 'matplotlib==3.8.4',
               'ipykernel==6.29.5', 'ipywidgets==8.1.5'],
    'newest': ['tensorflow==2.21.0', 'tf-keras==2.21.0', 'numpy==2.4.6', 'scipy==1.17.1', 'pillow==13.0.0',
               'matplotlib==3.11.2', 'ipykernel==7.4.0', 'ipywidgets==8.1.9', 'tqdm==4.70.1'],
}
CELL_TIMEOUT = 900  # seconds: the short mode trains 20 batches, but a fresh folder prepares its data first


def environment(name):
    """The virtual environment of one set as it was made, returned as its python: remade when its list changed or
    when what it holds is no longer what was installed (a run cut short before it uninstalled what it added)."""
    folder, packages = VENVS / name, RUNTIMES[name] + RUNNER
    record = folder / 'packages.json'
    python = folder / 'bin' / 'python'
    if record.is_file() and python.is_file() and json.loads(record.read_text()) == {
            'packages': packages, 'freeze': freeze(python)}:
        return python
    subprocess.run([sys.executable, '-m', 'venv', '--clear', str(folder)], check=True)
    installed = subprocess.run([str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
                                *packages], capture_output=True, text=True)
    if installed.returncode != 0:
        sys.exit(f'could not make the {name} environment: {installed.stderr.strip()[-2000:]}')
    record.write_text(json.dumps({'packages': packages, 'freeze': freeze(python)}))
    return python


def freeze(python):
    out = subprocess.run([str(python), '-m', 'pip', 'freeze', '--all'], capture_output=True, text=True, check=True)
    return dict(line.split('==', 1) for line in out.stdout.splitlines() if '==' in line)


RUN_NOTEBOOK = '''
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    NotebookClient(nb, timeout=int(sys.argv[3]), kernel_name='python3',
                   resources={'metadata': {'path': sys.argv[2]}}).execute()
finally:
    nbformat.write(nb, sys.argv[1])
'''


def run_notebook(python, notebook, data_source):
    """Copy the notebook alone into an empty folder, run it there; returns (the run notebook, seconds, stderr)."""
    with tempfile.TemporaryDirectory(prefix='alone-') as folder:
        copy = Path(folder) / notebook.name
        copy.write_bytes(notebook.read_bytes())
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(('TF_', 'DLND_', 'PYTHON', 'VIRTUAL_ENV', 'JUPYTER'))}
        env.update(DLND_SMOKE_TEST='1', DLND_PROJECT_SOURCE=str(ROOT))
        if data_source:
            env['DLND_DATA_SOURCE'] = data_source
        start = time.perf_counter()
        result = subprocess.run([str(python), '-c', RUN_NOTEBOOK, str(copy), folder, str(CELL_TIMEOUT)], cwd=folder,
                                env=env, capture_output=True, text=True)
        return json.loads(copy.read_text()), time.perf_counter() - start, result.stderr


def outputs_text(cell):
    texts = []
    for output in cell.get('outputs', []):
        texts.append(''.join(output.get('text', '')))
        texts += [''.join(output.get('traceback', []))]
    return '\n'.join(texts)


def summarize(nb):
    """(cells run, code cells, graded checks passed, graded checks, errors, TensorFlow log lines) of a run notebook."""
    code = [cell for cell in nb['cells'] if cell['cell_type'] == 'code' and ''.join(cell['source']).strip()]
    ran = sum(cell.get('execution_count') is not None for cell in code)
    graded = [cell for cell in code if re.search(r'^tests\.test_\w+\(', ''.join(cell['source']), re.M)]
    passed = sum('Tests Passed' in outputs_text(cell) for cell in graded)
    errors = [f'{output["ename"]}: {output["evalue"]}'[:200] for cell in code for output in cell.get('outputs', [])
              if output['output_type'] == 'error']
    logs = [line for cell in code for line in outputs_text(cell).splitlines() if NATIVE_LOG_LINE.match(line)]
    return ran, len(code), passed, len(graded), errors, logs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runtimes', nargs='*', help=f'of {", ".join(RUNTIMES)} (default: all)')
    parser.add_argument('--data', default=os.environ.get('DLND_DATA_SOURCE') or str(ROOT.parent / 'shared' / 'data'))
    parser.add_argument('--notebooks', nargs='*', type=Path, default=[NOTEBOOK, VARIANTS_NOTEBOOK])
    args = parser.parse_args()
    unknown = set(args.runtimes) - set(RUNTIMES)
    if unknown:
        parser.error(f'unknown runtime {", ".join(sorted(unknown))}: choose from {", ".join(RUNTIMES)}')
    rows = []
    for name in args.runtimes or list(RUNTIMES):
        python = environment(name)
        versions = freeze(python)
        for notebook in args.notebooks:
            before = freeze(python)
            nb, seconds, stderr = run_notebook(python, notebook, args.data)
            after = freeze(python)
            replaced = sorted(f'{pkg} {version} -> {after.get(pkg, "removed")}' for pkg, version in before.items()
                              if after.get(pkg) != version)
            added = sorted(set(after) - set(before))
            if added:  # the next notebook starts from the set as the kernel has it, too
                subprocess.run([str(python), '-m', 'pip', 'uninstall', '--quiet', '--yes', *added], check=True)
            ran, cells, passed, graded, errors, logs = summarize(nb)
            logs += [line for line in stderr.splitlines() if NATIVE_LOG_LINE.match(line) and line not in logs]
            ok = ran == cells and passed == graded and not errors and not replaced and not logs
            runtime = f'{name} (TensorFlow {versions.get("tensorflow")}, numpy {versions.get("numpy")})'
            rows.append((runtime, notebook.name, f'{ran}/{cells}', f'{passed}/{graded}', ', '.join(replaced) or 'none',
                         ', '.join(added) or 'none', str(len(logs)), f'{seconds:.0f} s', 'ok' if ok else 'FAILED'))
            for problem in errors + logs[:3] + ([stderr.strip()[-600:]] if not ok and stderr.strip() else []):
                print(f'{name} {notebook.name}: {problem}', file=sys.stderr)
    header = ('runtime', 'notebook', 'cells run', 'graded checks passed', 'packages replaced',
              'installed by the set-up', 'log lines', 'time', '')
    print('| ' + ' | '.join(header) + ' |\n|' + ' --- |' * len(header))
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    bad = sum(row[-1] != 'ok' for row in rows)
    print(f'compat: {len(rows) - bad} passed, {bad} failed')
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
