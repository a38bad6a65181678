"""The review rubric, line by line, and how each line is judged from what a submission left.

A graded function's line is judged by the graphs it builds: the checks of problem_unittests, replayed
(dlnd.checks.replay) on the record its code left in its sandbox (dlnd.grading.learner_run). train's line by what
train printed and showed on random data; the digits and the faces by the images the learner's trained generator
drew in that sandbox, scored here against the grader's own real data (dlnd.gan.quality), and so are
gan_variants.ipynb's results (its five GANs' digits, the conditional one's digits as asked, its flowers). Nothing
is judged by the text of the code, and nothing here runs the notebook's code. What the rubric requires decides a
line; what the course's reviewers only recommended (label smoothing, leaky ReLU, Adam with beta1 0.5, ...) is a
suggestion under a line that is met.
"""
import ast
import base64
import contextlib
import dataclasses
import io
import json
import re

from ..notebook import (
    SAVED_GENERATORS,
    SavedGenerator,
    cell_settings,
    code_cells,
    completeness_problems,
    images_in,
    notebook_kind,
    parse_cell,
    read,
    stdout_of,
    unit_test_problems,
)
from .inside import Ended

# The noise the learner's generator draws from: the course's uniform noise, and the normal noise some learners
# train with; the first drawing that meets the line is judged, else the closer one (judged_drawing).
Z_DISTRIBUTIONS = {'uniform': lambda rng, shape: rng.uniform(-1, 1, shape),
                   'normal': lambda rng, shape: rng.normal(0, 1, shape)}
HOW_TO_INCLUDE = ('submit the zip python -m dlnd submit builds, which carries checkpoints/{0}: the trained '
                  'generator that {1} saves')
DIGITS = 10


@dataclasses.dataclass(frozen=True)
class Drawing:
    """What the learner's sandbox draws for the judge with one saved generator: `count` images for each noise."""
    generator: SavedGenerator
    count: int
    noises: tuple


def drawing_name(folder):
    """The record of the drawing of the generator in checkpoints/<folder>: flowers-dcgan's is flowers_dcgan_drawing."""
    return folder.replace('-', '_') + '_drawing'


# 1,000 images of each generator, as the notebooks score them; the conditional one 1,000 of each digit
DRAWINGS = {drawing_name(g.folder): Drawing(g, 1000 * (DIGITS if g.conditional else 1),
                                     (g.noise,) if g.noise else tuple(Z_DISTRIBUTIONS))
            for generators in SAVED_GENERATORS.values() for g in generators}

HYPERPARAMETER_RANGES = {'batch_size': (16, 256), 'z_dim': (32, 256), 'learning_rate': (1e-5, 1e-3),
                         'beta1': (0.1, 0.9)}
LOSS_PATTERNS = (r'(?i)d(iscriminator)?[ _]loss', r'(?i)g(enerator)?[ _]loss')
SHOW_EVERY = 100  # batches: the rubric's "shows generator output every 100 batches"
TRAIN_BATCHES, ENOUGH_BATCHES = 201, 102  # train's run on random data (dlnd.grading.learner_run.run_train)


def longest_gap(shown_at, batches):
    """The most batches of `batches` that went by without a grid, given after how many batches each was shown:
    from the start to the first, between two, from the last to the end."""
    marks = [0, *sorted(p for p in shown_at if 0 <= p <= batches), batches]
    return max(b - a for a, b in zip(marks, marks[1:]))


def describe(error):
    """An exception as one line: its type and the first line of its message."""
    lines = str(error).splitlines()
    return f'{type(error).__name__}: {lines[0]}' if lines else type(error).__name__


def calls_train(source):
    """Whether the cell's own statements call train(...), outside any function it defines."""
    try:
        tree, _ = parse_cell(source)
    except SyntaxError:
        return bool(re.search(r'(?<![\w.])train\(', source)) and 'def train(' not in source
    top_level = [node for node in tree.body if not isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'train'
               for statement in top_level for node in ast.walk(statement))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What one rubric check decided: met or not, why in one line, and advice for a solution that meets it."""
    met: bool
    reason: str
    suggestions: tuple = ()
    pictures: tuple = ()  # (caption, base64 PNG): what the line was judged on, for the learner to see


@dataclasses.dataclass(frozen=True)
class GradedLine:
    """One rubric line, judged: its key (the graded function's name, or a short name), the line as the rubric
    words it, and the verdict."""
    key: str
    line: str
    met: bool
    reason: str
    suggestions: tuple = ()
    pictures: tuple = ()

    @classmethod
    def from_dict(cls, data):
        """Read back from JSON (the judging server's answer): exactly these fields, of these types."""
        line = cls(**data)
        if not (all(isinstance(v, str) for v in (line.key, line.line, line.reason)) and isinstance(line.met, bool)):
            raise TypeError('a graded line of the wrong types')
        pictures = tuple((str(caption), str(png)) for caption, png in line.pictures)
        return dataclasses.replace(line, suggestions=tuple(str(s) for s in line.suggestions), pictures=pictures)


class Submission:
    """What the checks look at: the notebook's cells, and the records its code left in its sandbox
    (dlnd.grading.learner_run: {file name: text}). Nothing here runs the notebook's code."""

    def __init__(self, notebook, records=None, reference=None):
        self.nb = read(notebook) if not isinstance(notebook, dict) else notebook
        self.cells = code_cells(self.nb)
        self.records = records or {}
        self.reference = reference

    def record(self, name):
        """(the record of `name`'s run, None if there is none or the notebook's code did not load; why)."""
        try:
            data = _object(json.loads(self.records[f'{name}.json']))
        except (KeyError, TypeError, ValueError, RecursionError):
            pass
        else:
            if 'load_error' in data:
                return None, f"the notebook's code does not run: {data['load_error']}"
            return data, ''
        try:
            ended = Ended.from_dict(_object(json.loads(self.records[f'{name}.status.json'])))
        except (KeyError, TypeError, ValueError, RecursionError):
            return None, f"{name} has no result: the sandbox running the notebook's code stopped before its check ended"
        return None, f'{name} {ended.in_words()}, before its result was written'

    def drawings(self, name):
        """({noise: uint8 images} the learner's generator drew for `name` in DRAWINGS, ''), or (None, why not)."""
        drawing = DRAWINGS[name]
        generator, count = drawing.generator, drawing.count
        data, missing = self.record(name)
        if data is None:
            return None, missing
        if data.get('missing'):
            return None, ('no trained generator in the submission: '
                          + HOW_TO_INCLUDE.format(generator.folder, generator.saved_by))
        if data.get('error'):
            return None, str(data['error'])
        import numpy as np
        shape = (count, 28, 28, generator.channels)
        try:
            drawings = {noise: np.frombuffer(base64.b64decode(data['drawings'][noise], validate=True), np.uint8)
                        .reshape(shape) for noise in drawing.noises}
        except (KeyError, TypeError, ValueError):
            return None, f"the drawing's record is not one the grader wrote (expected {count} images of {shape[1:]})"
        return drawings, ''

    def training_cells(self):
        """Cells whose top-level code calls train() (a mention in a docstring or comment does not count)."""
        return [c for c in self.cells if calls_train(c['source'])]

    def all_stdout(self):
        return '\n'.join(stdout_of(c) for c in self.cells)


def _object(data):
    """A record must be a JSON object (it was written in the learner's sandbox, so it may be anything)."""
    if not isinstance(data, dict):
        raise ValueError('not a JSON object')
    return data


def graded(name):
    """The rubric line of a graded function: its check in problem_unittests, replayed from the record of the
    notebook's run (dlnd.checks.replay), with the check's suggestions."""
    def check(sub):
        import problem_unittests

        from ..checks import replay
        record, missing = sub.record(name)
        if record is None:
            return Verdict(False, missing)
        if record.get('undefined'):
            return Verdict(False, f'{name} is not defined')
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                suggestions = replay.replay(getattr(problem_unittests, f'test_{name}').check, name, record)
        except AssertionError as e:
            return Verdict(False, str(e))
        except Exception as e:
            return Verdict(False, f'{name} raised {describe(e)}')
        return Verdict(True, 'the graph it builds passes every graded check', tuple(suggestions))
    check.function = name
    return check


def unit_tests_ran(sub):
    problems = completeness_problems(sub.nb) + unit_test_problems(sub.nb)
    return Verdict(not problems, '; '.join(problems) or 'every unit-test cell printed Tests Passed')


def train_behaves(sub):
    """train, run on random data in the sandbox (dlnd.grading.learner_run.run_train): it must print both losses and show
    the generator every 100 batches."""
    data, missing = sub.record('train')
    if data is None:
        return Verdict(False, missing)
    if not data.get('defined'):
        return Verdict(False, 'train or show_generator_output is not defined')
    if data.get('error'):
        return Verdict(False, f"train failed on random data: {data['error']}")
    try:
        batches, shown_at, printed = int(data['batches']), [int(p) for p in data['shown_at']], str(data['printed'])
    except (KeyError, TypeError, ValueError):
        return Verdict(False, "train's record is not one the grader wrote")
    if batches < ENOUGH_BATCHES:
        return Verdict(False, f'train stopped after {batches} of the {TRAIN_BATCHES} batches get_batches gave it')
    if not all(re.search(p, printed) for p in LOSS_PATTERNS):
        return Verdict(False, 'train did not print both the discriminator and the generator loss')
    gap = longest_gap(shown_at, batches)
    if gap > SHOW_EVERY:
        return Verdict(False, f'train showed the generator output after batches {shown_at[:6] or "none"} of '
                       f'{batches}, going {gap} batches without a grid (expected one every {SHOW_EVERY})')
    training = sub.training_cells()
    if not training:
        return Verdict(False, 'no cell runs train')
    for cell in training:
        if not images_in(cell) or not all(re.search(p, stdout_of(cell)) for p in LOSS_PATTERNS):
            return Verdict(False, 'a training cell has no printed losses or no images in its output (was it run?)')
    suggestions = [f'train passes model_opt the learning rate as the number {rate}; pass the placeholder from '
                   'model_inputs and feed the number, so the graph need not be rebuilt to change it'
                   for rate in data.get('rates', []) if rate != 'tensor']
    grids = f'{len(shown_at)} grid' + ('s' if len(shown_at) != 1 else '')
    return Verdict(True, f'printed both losses and showed {grids} in {batches} batches; the training cells show '
                   'both', tuple(suggestions), loss_pictures(training))


NUMBER = r'\s*[:=]?\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)'


def printed_losses(text):
    """[(discriminator loss, generator loss)] of each line of `text` that prints both."""
    found = []
    for line in text.splitlines():
        pair = [re.search(pattern + NUMBER, line) for pattern in LOSS_PATTERNS]
        if all(pair):
            found.append(tuple(float(match.groups()[-1]) for match in pair))
    return found


def loss_pictures(training_cells):
    """(caption, PNG) of the losses each training cell printed, as the learner's run printed them."""
    from ..gan.quality import loss_picture
    pictures = []
    for k, cell in enumerate(training_cells):
        losses = printed_losses(stdout_of(cell))
        if len(losses) >= 2:
            title = next((name for name in ('MNIST', 'CelebA') if name.lower() in cell['source'].lower()),
                         f'training cell {k + 1}')
            d_losses, g_losses = zip(*losses)
            pictures.append((f'the losses your {title} run printed', loss_picture(d_losses, g_losses, title)))
    return tuple(pictures)


def sensible_hyperparameters(sub):
    cells = sub.training_cells()
    if not cells:
        return Verdict(False, 'no cell runs train')
    problems, seen = [], []
    for cell in cells:
        settings = cell_settings(cell['source'])
        for name, (low, high) in HYPERPARAMETER_RANGES.items():
            value = settings.get(name)
            if value is None:
                problems.append(f'{name} is not set in the training cell')
            elif not low <= value <= high:
                problems.append(f'{name} = {value} is outside {low}..{high}')
            else:
                seen.append(f'{name} {value}')
    return Verdict(not problems, '; '.join(dict.fromkeys(problems)) if problems else ', '.join(dict.fromkeys(seen)))


NO_REFERENCE = Verdict(False, 'not judged: the grader has no reference data (python -m dlnd.gan.quality builds it)')


def judged_drawing(sub, name, scores_of, passes, distance, in_words, real_images):
    """The verdict on the drawing `name`, scored by `scores_of`; of the drawings (one a noise) the first that passes,
    else the one of the least `distance` from real data's scores, is judged and shown."""
    if sub.reference is None:
        return NO_REFERENCE
    drawings, why = sub.drawings(name)
    if drawings is None:
        return Verdict(False, why)
    scored = {}
    for noise, images in drawings.items():  # the course's uniform noise first: scoring faces takes seconds
        scored[noise] = scores_of(images)
        if passes(scored[noise]):
            break
    noise = min(scored, key=lambda n: (not passes(scored[n]), distance(scored[n])))
    from ..gan.quality import grid_picture
    words = f'{in_words(scored[noise])}; drawn by your generator for {noise} noise, scored against real data'
    pictures = ((f'what your generator drew ({noise} noise)', grid_picture(drawings[noise])),
                ('real images, for comparison', grid_picture(sub.reference.arrays[real_images])))
    return Verdict(bool(passes(scored[noise])), words, (), pictures)


def digits_look_like_digits(sub, max_ratio=20, min_score=5):
    real = sub.reference.digits_real_scores if sub.reference else (1, 1)

    def in_words(scores):
        return (f'Frechet distance {scores[0]:.1f} (real {real[0]:.1f}, limit {max_ratio}x), classifier score '
                f'{scores[1]:.2f} (real {real[1]:.2f}, at least {min_score})')
    return judged_drawing(sub, 'mnist_drawing', lambda images: sub.reference.digit_scores(images),
                          lambda s: s[0] <= max_ratio * real[0] and s[1] >= min_score, lambda s: s[0], in_words,
                          'digits')


digits_look_like_digits.drawings = ('mnist_drawing',)


def faces_look_like_faces(sub, max_ratio=5):
    real = sub.reference.faces_real_scores if sub.reference else (1, 1, 1)

    def in_words(scores):
        return 'SWD ' + ', '.join(f'{size}px {gen:.1f} (real {r:.1f})' for size, gen, r in
                                  zip((28, 14, 7), scores, real)) + f', limit {max_ratio}x real'
    return judged_drawing(sub, 'celeba_drawing', lambda images: sub.reference.face_scores(images),
                          lambda s: all(g <= max_ratio * r for g, r in zip(s, real)),
                          lambda s: max(g / r for g, r in zip(s, real)), in_words, 'faces')


faces_look_like_faces.drawings = ('celeba_drawing',)


RUBRIC = [
    ('model_inputs',
     'model_inputs returns the real-image (rank 4) and z (rank 2) placeholders and a scalar learning-rate '
     'placeholder', graded('model_inputs')),
    ('discriminator',
     "discriminator: scope 'discriminator' with reuse, no batch norm on the first layer, strided 'same' "
     'convolutions, an activation on every hidden layer, sigmoid output, one logit per image, returns '
     '(out, logits)', graded('discriminator')),
    ('generator',
     "generator: scope 'generator', reuse=not is_train, no batch norm on the last layer, moving statistics "
     'when sampling, tanh output of 28x28xC for every image', graded('generator')),
    ('model_loss', 'model_loss: discriminator(images, reuse=False), generator(z, C, is_train=True), '
     'discriminator(fake, reuse=True), labels that let both losses train', graded('model_loss')),
    ('model_opt', 'model_opt: trainable variables filtered by scope, batch-norm UPDATE_OPS run with the training ops',
     graded('model_opt')),
    ('unit tests', 'every unit-test cell ran and passed', unit_tests_ran),
    ('train', 'train prints both losses and shows generator output every 100 batches', train_behaves),
    ('hyperparameters', 'sensible hyperparameters', sensible_hyperparameters),
    ('digits', 'the generated digits look like digits', digits_look_like_digits),
    ('faces', 'the generated faces look like faces', faces_look_like_faces),
]


def cell_calling(sub, name):
    """The first code cell whose source calls `name`(...)."""
    return next((c for c in sub.cells if f'{name}(' in c['source'] and f'def {name}(' not in c['source']), None)


def gradients_plotted(sub):
    cell = cell_calling(sub, 'generator_gradients')
    if cell is None or not images_in(cell):
        return Verdict(False, "the gradient comparison's plot is missing: run the cell that calls "
                       'generator_gradients')
    return Verdict(True, 'plotted')


# gan_variants.ipynb's generators, by folder: part 4's five GANs draw digits, part 5's two (without and with
# augmentation) flowers
VARIANTS = tuple(g.folder for g in SAVED_GENERATORS['GAN family'] if g.channels == 1)
CONDITIONAL = next(g.folder for g in SAVED_GENERATORS['GAN family'] if g.conditional)
FLOWERS = tuple(g.folder for g in SAVED_GENERATORS['GAN family'] if g.channels == 3)
SCORED = 1000  # images per metric, as the notebooks score them (the conditional GAN's first 1,000: 100 a digit)


def family_drawing(sub, folder):
    """(the uint8 images drawn by the GAN family's generator saved in checkpoints/<folder>, '') or (None, why not)."""
    drawings, why = sub.drawings(drawing_name(folder))
    return (None, f'{folder}: {why}') if drawings is None else (next(iter(drawings.values())), '')


def drawn_picture(folder, images, count=36, how=''):
    from ..gan.quality import grid_picture
    return f'{folder}: what your generator drew{how}', grid_picture(images, count)


def real_picture(sub, images):
    from ..gan.quality import grid_picture
    return f'real {images}, for comparison', grid_picture(sub.reference.arrays[images])


def variants_draw_digits(sub, max_ratio=40, min_score=4):
    """Each of part 4's five generators, drawn in the sandbox, scored as the face-generation notebook's digits. The
    line asks that each be trained, not that it be good: the fully connected GANs draw blurrier digits in the same
    CPU time (their Frechet distance was 27 to 40 in the runs recorded, docs/experiments.md), hence twice the
    digits line's distance and a lower score; a generator that never trained scores above 700 and 1.0."""
    if sub.reference is None:
        return NO_REFERENCE
    real, scored, pictures = sub.reference.digits_real_scores, {}, []
    for folder in VARIANTS:
        images, why = family_drawing(sub, folder)
        if images is None:
            return Verdict(False, why)
        scored[folder] = sub.reference.digit_scores(images[:SCORED])
        pictures.append(drawn_picture(folder, images))
    weak = [f for f, (distance, score) in scored.items() if distance > max_ratio * real[0] or score < min_score]
    words = ', '.join(f'{folder} {distance:.1f} / {score:.2f}' for folder, (distance, score) in scored.items())
    return Verdict(not weak, f'Frechet distance / classifier score of what each generator drew: {words} (real '
                   f'{real[0]:.1f} / {real[1]:.2f}; limits {max_ratio}x real, at least {min_score})'
                   + (f'; not met by {", ".join(weak)}' if weak else ''), (),
                   (*pictures, real_picture(sub, 'digits')))


variants_draw_digits.drawings = tuple(map(drawing_name, VARIANTS))


def conditional_digits_as_asked(sub, overall=0.97, each=0.95):
    """The conditional generator's 1,000 digits of each kind, read by the grader's classifier."""
    if sub.reference is None:
        return NO_REFERENCE
    images, why = family_drawing(sub, CONDITIONAL)
    if images is None:
        return Verdict(False, why)
    import numpy as np
    asked = np.arange(len(images)) % DIGITS  # as the sandbox drew them: each digit in turn
    read = sub.reference.digits_read(images)
    per_digit = [float(np.mean(read[asked == d] == d)) for d in range(DIGITS)]
    share, worst = float(np.mean(read == asked)), int(np.argmin(per_digit))
    rows = np.concatenate([images[asked == d][:DIGITS] for d in range(DIGITS)])
    return Verdict(share >= overall and per_digit[worst] >= each,
                   f'{share:.1%} of {len(images):,} drawn by your generator read as the digit asked for (at least '
                   f'{overall:.0%}), the worst digit, {worst}, {per_digit[worst]:.1%} (at least {each:.0%})', (),
                   (drawn_picture(CONDITIONAL, rows, DIGITS ** 2, ', row k asked for digit k'),))


conditional_digits_as_asked.drawings = (drawing_name(CONDITIONAL),)


def flowers_with_augmentation(sub, max_ratio=2):
    """Part 5's two generators, drawn in the sandbox; with augmentation within max_ratio x real against real at every
    level. Better than without is reported, not required: the SWD can show it only at 28 px (at 14 and 7 px both
    reach what real photographs score, docs/experiments.md), and one run can miss it whatever the code."""
    if sub.reference is None:
        return NO_REFERENCE
    scored, pictures = {}, []
    for folder in FLOWERS:
        images, why = family_drawing(sub, folder)
        if images is None:
            return Verdict(False, why)
        scored[folder] = sub.reference.flower_scores(images)
        pictures.append(drawn_picture(folder, images))
    real = sub.reference.flowers_real_scores
    plain, augmented = (scored[folder] for folder in FLOWERS)

    def levels(values):
        return ' / '.join(f'{v:.1f}' for v in values)
    return Verdict(all(a <= max_ratio * r for a, r in zip(augmented, real)),
                   f'SWD at 28 / 14 / 7 px of what your generators drew: with augmentation {levels(augmented)}, '
                   f'without {levels(plain)}, real against real {levels(real)} (limit {max_ratio}x, with '
                   'augmentation)', (), (*pictures, real_picture(sub, 'flowers')))


flowers_with_augmentation.drawings = tuple(map(drawing_name, FLOWERS))


VARIANTS_RUBRIC = [
    ('fc_discriminator',
     'fc_discriminator: fully connected, at least one hidden layer with a leaky ReLU of slope alpha, '
     "scope 'discriminator' with reuse, sigmoid output, one logit per image", graded('fc_discriminator')),
    ('fc_generator', 'fc_generator: fully connected, at least one hidden layer with a leaky ReLU of slope alpha, '
     "scope 'generator' with reuse=not is_train, tanh output of 28x28xC", graded('fc_generator')),
    ('gan_loss',
     'gan_loss: cross-entropy on the logits, labels that let both losses train, the non-saturating generator '
     'loss', graded('gan_loss')),
    ('lsgan_loss', 'lsgan_loss: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2] and 1/2 E[(D(G(z)) - 1)^2] on the raw scores',
     graded('lsgan_loss')),
    ('conditional_generator',
     'conditional_generator: the DCGAN generator reading its labels (other labels, other images)',
     graded('conditional_generator')),
    ('conditional_discriminator',
     'conditional_discriminator: the DCGAN discriminator reading its labels (other labels, other logits)',
     graded('conditional_discriminator')),
    ('conditional_model_loss',
     'conditional_model_loss: the labels given to the generator and to both discriminator calls, the logits to '
     'the loss', graded('conditional_model_loss')),
    ('unit tests', 'every unit-test cell ran and passed', unit_tests_ran),
    ('gradients', 'the saturating and non-saturating gradients are compared in a plot', gradients_plotted),
    ('variants', "part 4's five GANs trained: each generator draws digits within 40x real digits' Frechet distance, "
     'with a classifier score of at least 4', variants_draw_digits),
    ('conditional digits', 'the conditional DCGAN draws the digit asked for (97% of 10,000 samples, every digit 95%)',
     conditional_digits_as_asked),
    ('augment', 'augment: colour, translation and cutout drawn per image, differentiable', graded('augment')),
    ('augmented_model_loss',
     'augmented_model_loss: every image the discriminator sees goes through augment, real and fake, in both losses',
     graded('augmented_model_loss')),
    ('flowers',
     'flowers: trained without and with augmentation; with it, within 2x of real against real at every SWD level',
     flowers_with_augmentation),
]


KIND = {'face generation': RUBRIC, 'GAN family': VARIANTS_RUBRIC}


def rubric_for(nb):
    """The face-generation rubric, or the GAN-family one for a notebook that defines the family's functions;
    None for a notebook that defines none of either's graded functions."""
    return KIND.get(notebook_kind(nb))


def recorded_names(rubric):
    """What dlnd.grading.learner_run must run for a rubric: each graded function's check, train's run, and the
    drawings of the trained generators."""
    names = []
    for _, _, check in rubric:
        names += [check.function] if hasattr(check, 'function') else ['train'] if check is train_behaves else []
        names += getattr(check, 'drawings', ())
    return list(dict.fromkeys(names))  # the conditional generator's drawing serves two lines
NOTEBOOK_OF = {'face generation': 'dlnd_face_generation.ipynb', 'GAN family': 'gan_variants.ipynb'}


def kind_of(rubric):
    """'face generation' or 'GAN family': which notebook's rubric this is."""
    return next(kind for kind, known in KIND.items() if known is rubric)


def judge(notebook, records, reference=None):
    """[GradedLine] for `notebook` (a path or the notebook itself), from the records its code left ({file name:
    text}), the drawings scored against `reference` (dlnd.gan.quality.Reference). A record too malformed to read
    fails only its line."""
    sub = Submission(notebook, records, reference)
    rubric = rubric_for(sub.nb)
    # The drawings first, their memory handed back before the replays: a grader may have 768 MB for all of it
    verdicts = {key: _judged(check, sub) for key, _, check in rubric if hasattr(check, 'drawings')}
    release_freed_memory()
    verdicts.update({key: _judged(check, sub) for key, _, check in rubric if not hasattr(check, 'drawings')})
    return [GradedLine(key, line, *dataclasses.astuple(verdicts[key])) for key, line, _ in rubric]


def release_freed_memory():
    """Give the C library's freed memory back to the system (glibc keeps it otherwise)."""
    import ctypes
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except AttributeError:  # not glibc
        pass


def _judged(check, sub):
    try:
        verdict = check(sub)
    except Exception as e:  # RecursionError too
        return Verdict(False, f'could not be judged from what the notebook left: {describe(e)}')
    return verdict
