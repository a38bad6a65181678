"""The code behind helper.py and problem_unittests.py, one subpackage a part:

    dlnd/data/     download, check and prepare MNIST, CelebA and the flowers; batches      (helper.py's half)
    dlnd/gan/      the GAN family's trainer, a trained generator's images, the quality metrics
    dlnd/checks/   the graded checks' machinery (problem_unittests.py's half) and their replay
    dlnd/grading/  grade a class or one notebook: the sandbox, the rubric, the judge, Gradescope
    dlnd/course/   the course's tooling: a learner's submission zip, the learners' release

At the top, what every part shares: notebook (reading notebooks), fileio (safe writes), tf_setup (TensorFlow's
set-up) and hosted (the notebooks' set-up cell imports it by that path). One command line over them all:
`python -m dlnd COMMAND` (dlnd/__main__.py).
"""
import importlib
import importlib.abc
import importlib.util
import sys

# Modules that lived at the top before the subpackages: `python -m dlnd.grade`, a learner's older notebook
# (`from dlnd.evaluation import MnistEvaluator`) and older habits keep working, each name the module it became.
MOVED = {
    'data': ('download', 'archive', 'cache', 'imageprep', 'mnist', 'celeba', 'flowers', 'dataset'),
    'gan': ('gan_family', 'generate', 'evaluation', 'metrics', 'mnist_classifier'),
    'checks': ('graph_checks', 'replay'),
    'grading': ('sandbox', 'learner_run', 'judging', 'grade', 'gradescope', 'review'),
    'course': ('submit', 'release'),
}
NEW_NAMES = {f'{__name__}.{module}': f'{__name__}.{part}.{module}' for part, modules in MOVED.items()
             for module in modules}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports dlnd.X, for a module X that moved, as the module it became (the same module object)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in NEW_NAMES else None

    def exec_module(self, module):
        sys.modules[module.__name__] = importlib.import_module(NEW_NAMES[module.__name__])  # import takes this one

    def get_code(self, name):
        """What `python -m dlnd.X` runs: the module it became, as __main__."""
        return compile(f'import runpy\nrunpy.run_module({NEW_NAMES[name]!r}, run_name="__main__", alter_sys=True)',
                       f'<{name}, now {NEW_NAMES[name]}>', 'exec')


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
