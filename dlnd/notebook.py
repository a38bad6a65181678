"""Reading the course notebook: its cells, its function definitions and its training settings."""
import ast
import dataclasses
import itertools
import json
import linecache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project: helper.py, problem_unittests.py, dlnd/, the notebooks
NOTEBOOK = ROOT / 'dlnd_face_generation.ipynb'
VARIANTS_NOTEBOOK = ROOT / 'gan_variants.ipynb'
GRADED = ('model_inputs', 'discriminator', 'generator', 'model_loss', 'model_opt')  # the face-generation notebook's
VARIANTS_GRADED = ('fc_discriminator', 'fc_generator', 'gan_loss', 'lsgan_loss', 'conditional_generator',
                   'conditional_discriminator', 'conditional_model_loss', 'augment',
                   'augmented_model_loss')  # gan_variants.ipynb's
_loads = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class SavedGenerator:
    """A trained generator a notebook saves in checkpoints/<folder>, which the grader draws the images it judges
    from: built by the learner's `network` (defined in the notebook, or in `defined_in` beside it), trained by
    `saved_by` on noise of `z_dim` drawn from `noise` (None: the learner's own choice)."""
    folder: str
    network: str
    channels: int
    saved_by: str
    defined_in: str = ''
    conditional: bool = False  # the network also takes one-hot labels of the 10 digits
    z_dim: int = None
    noise: str = None


def _family(folder, network, channels, part, defined_in='', conditional=False):
    """A generator gan_variants.ipynb trains with dlnd.gan.gan_family: 100 uniform numbers of noise (its Z_DIM)."""
    prefix = 'flowers-' if part == 5 else ''
    return SavedGenerator(folder, network, channels, f"part {part}'s gan_family.train(..., "
                          f"checkpoint_dir=f'checkpoints/{prefix}{{variant.key}}')", defined_in, conditional, 100,
                          'uniform')


SAVED_GENERATORS = {
    'face generation': (
        SavedGenerator('mnist', 'generator', 1, "train(..., checkpoint_dir='checkpoints/mnist')"),
        SavedGenerator('celeba', 'generator', 3, "train(..., checkpoint_dir='checkpoints/celeba')")),
    'GAN family': (
        _family('vanilla-cross-entropy', 'fc_generator', 1, 4),
        _family('vanilla-least-squares', 'fc_generator', 1, 4),
        _family('dcgan-cross-entropy', 'generator', 1, 4, NOTEBOOK.name),
        _family('dcgan-least-squares', 'generator', 1, 4, NOTEBOOK.name),
        _family('conditional-dcgan-cross-entropy', 'conditional_generator', 1, 4, conditional=True),
        _family('flowers-dcgan', 'generator', 3, 5, NOTEBOOK.name),
        _family('flowers-dcgan-diffaugment', 'generator', 3, 5, NOTEBOOK.name)),
}


def notebook_kind(nb):
    """'GAN family' for a notebook that defines the family's functions, 'face generation' for one that defines a
    graded function of the face-generation notebook, else None."""
    sources = [c['source'] for c in code_cells(nb)]
    if any('def fc_discriminator(' in source for source in sources):
        return 'GAN family'
    return 'face generation' if any(f'def {name}(' in source for source in sources for name in GRADED) else None


def package_files():
    """The project's code a submission or a Gradescope bundle carries, relative to ROOT: helper.py,
    problem_unittests.py and every module of dlnd/ with its subpackages."""
    modules = sorted(str(path.relative_to(ROOT)) for path in (ROOT / 'dlnd').rglob('*.py'))
    return ['helper.py', 'problem_unittests.py'] + modules


def read(notebook=NOTEBOOK):
    return json.loads(Path(notebook).read_text())


def code_cells(notebook=NOTEBOOK):
    """The code cells as dicts, with their source joined into one string."""
    nb = notebook if isinstance(notebook, dict) else read(notebook)
    return [dict(cell, source=''.join(cell['source'])) for cell in nb['cells'] if cell['cell_type'] == 'code']


def cell_sources(notebook=NOTEBOOK):
    return [cell['source'] for cell in code_cells(notebook)]


def parse_cell(source):
    """The cell's code, with IPython magics (%matplotlib ...) left out."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(('%', '!'))]
    return ast.parse('\n'.join(lines)), '\n'.join(lines)


def definitions_source(sources, graded=GRADED + VARIANTS_GRADED):
    """What the graded functions need, without running anything else: every function definition and
    import, the assignments made in the cells that define a graded function, and every assignment of a
    plain constant (learners' functions often read a global such as `epochs`)."""
    kept = []
    for source in sources:
        tree, text = parse_cell(source)
        defines_graded = any(f'def {name}(' in text for name in graded)
        kept += [ast.get_source_segment(text, node) for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))
                 or isinstance(node, ast.Assign) and (defines_graded or isinstance(node.value, ast.Constant))]
    return '\n\n'.join(kept)


def load_functions(tf, source=None, notebook=NOTEBOOK):
    """Execute the definitions (the notebook's, or `source`) in a fresh namespace that has `tf` and `np`.
    Their lines are kept for tracebacks and messages (linecache), each load under a name of its own."""
    import numpy as np
    namespace = {'tf': tf, 'np': np}
    source = source or definitions_source(cell_sources(notebook))
    filename = f'<notebook {next(_loads)}>'
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, 'exec'), namespace)
    return namespace


def load_variant_functions(tf):
    """gan_variants.ipynb's definitions with the face-generation notebook's discriminator and generator bound in,
    as its part 4 binds them (augmented_model_loss calls them by name)."""
    functions, dcgan = load_functions(tf, notebook=VARIANTS_NOTEBOOK), load_functions(tf)
    functions['discriminator'], functions['generator'] = dcgan['discriminator'], dcgan['generator']
    return functions


def cell_settings(source):
    """The constant assignments of one cell (batch_size = 64, ...), as a dict."""
    tree, _ = parse_cell(source)
    return {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.targets[0], ast.Name)}


def notebook_settings(marker='mnist_dataset = helper.Dataset', notebook=NOTEBOOK):
    """The settings of the cell that contains `marker` (by default the MNIST training run)."""
    return cell_settings(next(s for s in cell_sources(notebook) if marker in s))


# --- what a notebook's stored outputs show ------------------------------------------------------------

def unit_test_cells(nb):
    return [(k, cell) for k, cell in enumerate(code_cells(nb)) if 'tests.test_' in cell['source']]


def stdout_of(cell):
    return ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('name') == 'stdout')


def images_in(cell):
    """How many images (PNG or JPEG) the cell's outputs show."""
    return sum(any(kind in o.get('data', {}) for kind in ('image/png', 'image/jpeg')) for o in cell.get('outputs', []))


def error_names(cell):
    """The exception names of the cell's error outputs."""
    return [o['ename'] for o in cell.get('outputs', []) if o['output_type'] == 'error']


def unit_test_problems(nb):
    """Why the unit-test cells did not all pass (empty when they did)."""
    problems = []
    for k, cell in unit_test_cells(nb):
        errors = error_names(cell)
        if errors:
            problems.append(f'the unit test in code cell {k + 1} failed ({errors[0]})')
        elif 'Tests Passed' not in stdout_of(cell):
            problems.append(f'the unit test in code cell {k + 1} has not passed (was it run?)')
    return problems


def completeness_problems(nb):
    """Why the notebook does not count as run top to bottom (empty when it does)."""
    cells = [(k, cell) for k, cell in enumerate(code_cells(nb)) if cell['source'].strip()]  # numbered as shown
    unrun = [k + 1 for k, cell in cells if cell.get('execution_count') is None]
    if unrun:
        return [f'{len(unrun)} code cells were not run (the first is code cell {unrun[0]}); run all cells in order']
    counts = [cell['execution_count'] for _, cell in cells]
    problems = [] if counts == sorted(counts) else ['the cells were not run in order; restart and run all']
    for k, cell in cells:
        errors = error_names(cell)
        if errors:
            problems.append(f'code cell {k + 1} ended with an error ({errors[0]})')
    return problems
