"""Reading the course notebook: its cells, its function definitions and its training settings."""
import ast
import itertools
import json
import linecache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / 'dlnd_face_generation.ipynb'
VARIANTS_NOTEBOOK = ROOT / 'gan_variants.ipynb'
GRADED = ('model_inputs', 'discriminator', 'generator', 'model_loss', 'model_opt')  # the face-generation notebook's
VARIANTS_GRADED = ('fc_discriminator', 'fc_generator', 'gan_loss', 'lsgan_loss', 'conditional_generator',
                   'conditional_discriminator', 'conditional_model_loss', 'augment',
                   'augmented_model_loss')  # gan_variants.ipynb's
_loads = itertools.count(1)


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
