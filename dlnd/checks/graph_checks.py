"""The machinery behind problem_unittests: running a check in a fresh graph, one-line errors, and reading
what a learner's graph does (layers, activations, gradients, the labels behind a loss).

    @graded
    def test_something(function, suggest):   # raise AssertionError (via check) to fail,
        ...                                   # suggest('...') to advise on code that passes
"""
import functools
import inspect
import linecache
import site
import sys
import textwrap
from pathlib import Path

import numpy as np

from ..tf_setup import import_tensorflow

tf = import_tensorflow()

LAYER_OPS = {'Conv2D', 'Conv2DBackpropInput', 'MatMul', 'BatchMatMulV2', 'DepthwiseConv2dNative'}
BATCH_NORM_OPS = {'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'Rsqrt'}
ACTIVATION_OPS = {'LeakyRelu', 'Maximum', 'Relu', 'Relu6', 'Elu', 'Selu', 'Tanh', 'Sigmoid', 'Softplus',
                  'Softsign', 'SelectV2', 'Select'}
PLAIN_RELU_OPS = {'Relu', 'Relu6'}


# --- running a check -------------------------------------------------------------------------------

def graded(check_function):
    """A check run in a fresh graph: prints Tests Passed and its suggestions, or raises AssertionError, which a
    notebook shows in a few lines (failure_lines), not as a traceback through the checks."""
    @functools.wraps(check_function)
    def test(function):
        __tracebackhide__ = True  # IPython leaves this frame out of a traceback
        try:
            suggestions = run_check(check_function, function)
        except AssertionError as failed:
            failed._render_traceback_ = functools.partial(failure_lines, check_function.__name__, failed)
            raise
        print('Tests Passed')
        for suggestion in suggestions:
            print(f'Suggestion: {suggestion}')
    test.check = check_function
    return test


def failure_lines(name, failed, width=100, most=8):
    """How a failed check shows in a notebook, where IPython calls this in place of printing the traceback: which
    check, then its message (what it expected, what it found, the hint), wrapped; `most` lines at most. The
    message is all a learner needs: the checks turn every error of the learner's code into one line."""
    red, plain = '\x1b[0;31m', '\x1b[0m'
    message = textwrap.wrap(str(failed), width - 2) or ['(no message)']
    if len(message) > most - 1:
        message = message[:most - 2] + [textwrap.shorten(' '.join(message[most - 2:]), width - 2)]
    return [f'{red}AssertionError{plain}: tests.{name} did not pass'] + [f'  {line}' for line in message]


def run_check(check_function, function):
    """The suggestions of one check on `function` (AssertionError when it fails), in a fresh seeded graph."""
    suggestions = []
    with tf.Graph().as_default():
        tf.set_random_seed(0)  # random ops repeat in a fresh session: dropout cannot fake or hide a dependence
        try:
            check_function(function, suggestions.append)
        except AssertionError as e:
            where = learner_assert(e)
            if where is None:
                raise
            why = f': {shortened(str(e).splitlines()[0])}' if str(e).strip() else ''
            raise AssertionError(f'an assert in your own code failed ({where}){why}; it is your check, not this '
                                 "test's: see why it fails on the graph this test builds, or remove it") from None
    return list(dict.fromkeys(suggestions))


# This module, the replay beside it and problem_unittests.py at the project's top (two folders up).
CHECK_FILES = {str(Path(__file__).resolve()), str(Path(__file__).resolve().parent / 'replay.py'),
               str(Path(__file__).resolve().parents[2] / 'problem_unittests.py')}


def check_file(filename):
    """Whether code from `filename` is the checks' own (not the learner's, not a library's)."""
    return str(Path(filename).resolve()) in CHECK_FILES


def learner_assert(error):
    """'function: `statement`' when the AssertionError was raised by the learner's code, not by a check."""
    if getattr(error, 'learner_where', None):
        return error.learner_where  # replayed from a record
    last = error.__traceback__
    if last is None:
        return None
    while last.tb_next is not None:
        last = last.tb_next
    code = last.tb_frame.f_code
    libraries = {sys.prefix, sys.base_prefix, *site.getsitepackages()}
    if check_file(code.co_filename) or code.co_filename.startswith('<frozen') or \
            any(code.co_filename.startswith(folder) for folder in libraries):
        return None  # a check's own verdict, or an assert inside a library (TensorFlow, numpy)
    statement = linecache.getline(code.co_filename, last.tb_lineno).strip()
    return f'{code.co_name}: `{statement}`' if statement else f'{code.co_name}, line {last.tb_lineno}'


def shortened(text, most=300):
    """A learner's own text, cut to fit a one-line message."""
    return text if len(text) <= most else text[:most - 5] + ' ...'


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def error_line(error):
    """The line of an exception's message that says what went wrong (TensorFlow wraps it in context)."""
    text = error.message if isinstance(error, tf.errors.OpError) else str(error)
    lines = [line for line in text.splitlines() if line and not line[0].isspace()
             and not line.startswith(('Graph execution error', 'Detected at node', 'Node:', 'File '))]
    return f'{type(error).__name__}: {lines[0] if lines else ""}'.rstrip(': ')


def call(make, what, hint=''):
    """Run learner code that builds a graph; any error becomes one line naming the call (and the fix). Every
    graded function returns something: None is a stub not written yet, or a missing return statement."""
    try:
        result = make()
        check(result is not None, f'{what} returned None: it is not written yet, or it does not return its result')
        return result
    except AssertionError:
        raise
    except Exception as e:
        if isinstance(e, ValueError) and ('already exists' in str(e) or 'does not exist' in str(e)):
            raise AssertionError(f'{what} failed: {hint} ({error_line(e)})') from None
        raise AssertionError(f'{what} raised {error_line(e)}') from None


def run(sess, fetches, feed, what, hint=''):
    """sess.run whose TensorFlow errors become one line naming what ran, the op that failed and the fix."""
    try:
        return sess.run(fetches, feed)
    except tf.errors.OpError as e:
        where = f' at {e.op.name}' if e.op is not None else ''
        raise AssertionError(f'{what} failed{where}: {error_line(e)}{hint}') from None


def fresh_run(fetches, feed):
    """Run in a new session of the (seeded) graph: the same weights and the same random numbers every time."""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def check_signature(function, name, args, keyword):
    """The call the notebook makes must bind: e.g. generator(z, out_channel_dim, is_train=False)."""
    try:
        inspect.signature(function).bind(*args, **{keyword: True})
    except TypeError:
        raise AssertionError(f'{name} must accept the argument {keyword} (the notebook calls {name}(..., '
                             f'{keyword}=...)); its parameters are {inspect.signature(function)}') from None


def names(items, shown=3):
    """A list of names for a one-line message: the first few, then how many more."""
    more = f' and {len(items) - shown} more' if len(items) > shown else ''
    return ', '.join(items[:shown]) + more


# --- reading a graph -------------------------------------------------------------------------------

def shape(tensor):
    return None if tensor.shape.rank is None else tensor.shape.as_list()


def data_input(op):
    """The tensor a layer op transforms (not its weights)."""
    return op.inputs[2] if op.type == 'Conv2DBackpropInput' else op.inputs[0]


def ancestors(tensors):
    """Every op the tensors are computed from."""
    seen, stack = set(), [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(t.op for t in op.inputs)
    return seen


def reads(tensor, source):
    """Whether `tensor` is computed from `source`."""
    return isinstance(tensor, tf.Tensor) and source.op in ancestors([tensor])


def layer_ops_after(op):
    """Ops reached forward from `op` up to (not including) the next conv or dense layer."""
    seen, frontier = set(), [op]
    while frontier:
        for out in frontier.pop().outputs:
            for consumer in out.consumers():
                if consumer not in seen and consumer.type not in LAYER_OPS:
                    seen.add(consumer)
                    frontier.append(consumer)
    return seen


def layer_ops_before(tensor):
    """Ops reached backward from `tensor` down to (not including) the conv or dense layer making it."""
    seen, frontier = set(), [tensor.op]
    while frontier:
        op = frontier.pop()
        if op in seen or op.type in LAYER_OPS:
            continue
        seen.add(op)
        frontier.extend(t.op for t in op.inputs)
    return seen


def has_batch_norm(ops):
    return any(op.type in BATCH_NORM_OPS for op in ops)


def ops_in(scope, types):
    return [op for op in tf.get_default_graph().get_operations()
            if op.name.startswith(scope + '/') and op.type in types]


def unwrap(tensor):
    """The tensor behind tf.identity and tf.reshape wrappers."""
    while tensor.op.type in ('Identity', 'Reshape'):
        tensor = tensor.op.inputs[0]
    return tensor


def layer_name(op):
    return op.name.rsplit('/', 1)[0]  # discriminator/conv2d_1/Conv2D -> discriminator/conv2d_1


def hidden_layers(output, scope):
    """{layer op: the ops between it and the next layer on the way to `output`} for each layer on the
    path to `output` except the one that makes it."""
    on_path = ancestors([output])
    layers = [op for op in ops_in(scope, LAYER_OPS) if op in on_path]
    between = {op: layer_ops_after(op) & on_path for op in layers}
    return {op: ops for op, ops in between.items() if output.op not in ops and op is not output.op}


def activations(layer, ops):
    """The nonlinear ops among `ops`; a tf.where counts only when its condition reads the layer's output
    (dropout's tf.where reads random numbers)."""
    return [op for op in ops if op.type in ACTIVATION_OPS
            and (op.type not in ('Select', 'SelectV2') or layer in ancestors([op.inputs[0]]))]


def leaky_slopes(activation_ops):
    """The slopes of the leaky ReLUs: tf.nn.leaky_relu's alpha, or the constant in tf.maximum(alpha * x, x)."""
    slopes = []
    for op in activation_ops:
        if op.type == 'LeakyRelu':
            slopes.append(op.get_attr('alpha'))
        elif op.type == 'Maximum':
            for product in (t.op for t in op.inputs if t.op.type == 'Mul'):
                constants = [tf.get_static_value(t) for t in product.inputs]
                slopes += [float(c) for c in constants if c is not None and np.size(c) == 1]
    return slopes


def new_variables(build):
    """(build()'s result, the names of the variables it created)."""
    before = set(tf.global_variables())
    result = build()
    return result, [v.name for v in tf.global_variables() if v not in before]


def variables_outside(scope):
    return [v.name for v in tf.global_variables() if not v.name.startswith(scope + '/')]


def check_all_variables_used(target, scope, what):
    """Every trainable variable of the network gets a gradient from `target`: no layer's output is left unread."""
    variables = tf.trainable_variables(scope)
    unused = [v.name for v, g in zip(variables, tf.gradients(target, variables)) if g is None]
    check(not unused, f'{names(unused)} get no gradient from {what}: that layer\'s output is never used; feed '
                      'each layer the previous layer\'s output, and the last one to the output layer')


def check_tensor(tensor, what, expected_shape, dtype=tf.float32):
    check(isinstance(tensor, tf.Tensor), f'{what} must be a tf.Tensor, found {type(tensor).__name__}')
    check(tensor.dtype == dtype, f'{what} must be {dtype.name} (tf.placeholder(tf.{dtype.name}, ...)), found '
                                 f'{tensor.dtype.name}')
    check(tensor.shape.rank == len(expected_shape), f'{what} must have rank {len(expected_shape)} (shape '
                                                    f'{list(expected_shape)}), found rank {tensor.shape.rank}')
    check(shape(tensor) == list(expected_shape), f'{what} must have shape {list(expected_shape)}, found '
                                                 f'{shape(tensor)}')


def check_placeholder(tensor, what):
    check(tensor.op.type in ('Placeholder', 'PlaceholderWithDefault'),
          f'{what} must be a tf.placeholder, found a {tensor.op.type} op')


def random_batch(rng, size, batch_shape):
    return rng.uniform(-1, 1, (size, *batch_shape)).astype(np.float32)


def one_hot_batch(rng, size, classes):
    return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, size)]


def differs_between_runs(sess, output, feed):
    """Whether the same input gives a different output a second time (dropout or other randomness)."""
    return not np.array_equal(sess.run(output, feed), sess.run(output, feed))


class CallRecorder:
    """Stands in for a function inside the learner's code, recording how it is called."""

    def __init__(self, function, replacement=None):
        self.function, self.replacement = function, replacement
        self.calls = []  # [bound arguments, result, new variables], the arguments kept even when the call fails

    def __call__(self, *args, **kwargs):
        arguments = inspect.signature(self.function).bind(*args, **kwargs)
        arguments.apply_defaults()
        self.calls.append([arguments.arguments, None, []])
        self.calls[-1][1:] = new_variables(lambda: (self.replacement or self.function)(*args, **kwargs))
        return self.calls[-1][1]


# --- the labels behind a loss ----------------------------------------------------------------------

# Discriminator logits (real, fake) at which losses are measured.
LOGIT_GRID = [(r, f) for r in (-3.0, -1.0, 0.0, 1.0, 3.0) for f in (-3.0, 0.0, 3.0)]


def softplus(x):
    return np.log1p(np.exp(x))


def fit_cross_entropy(losses):
    """Fit loss = w_r * CE(r, z_r) + w_f * CE(f, z_f) + c over the LOGIT_GRID scores (r, f), with
    CE(x, z) = softplus(x) - x z, the sigmoid cross-entropy.

    Returns ((w_r, z_r), (w_f, z_f), worst residual); a weight near 0 means that term is absent.
    """
    r, f = np.array(LOGIT_GRID).T
    basis = np.stack([softplus(r), -r, softplus(f), -f, np.ones_like(r)], axis=1)
    coefficients = np.linalg.lstsq(basis, losses, rcond=None)[0]
    w_r, v_r, w_f, v_f, _ = coefficients
    residual = np.abs(basis @ coefficients - losses).max()
    return (w_r, _label(w_r, v_r)), (w_f, _label(w_f, v_f)), residual


def _label(weight, weighted_label):
    return weighted_label / weight if abs(weight) > 1e-3 else np.nan
