"""A graded check whose verdict the learner's code cannot reach: run it on the learner's code, then judge a replay.

A check runs twice, from the same code. First (`record`, in the submission's sandbox) on the learner's real
functions: every call between the check and the learner's code goes into a record, together with the ops
each learner call added to the graph (their NodeDefs), the variables and collection entries it added, and
what it returned or raised. Then (`replay`, in a judging process where no learner code exists, dlnd.grading.judging) the
check runs again on stand-ins: each learner function becomes a function that, when the check calls it,
verifies the call is the one recorded, imports the recorded ops into the check's graph, calls back into the
check where the learner's code did (a recorder, a scripted network, a loss passed in) and returns the
recorded result. Every test of the graph, every session run and every verdict is the replay's own.

Why that holds. The record is the learner's data and can say anything: patching `problem_unittests`,
`dlnd`, numpy or TensorFlow, printing "Tests Passed" or exiting early changes the record, never the code
that judges it. A record whose calls do not match what the replayed check asks for fails the check (the
check's code is deterministic: ops are matched by creation index, so both runs must make the same calls in
the same order). A forged record that does match describes graphs the check judges as it judges any
learner's graphs, so forging one that passes is writing code that passes. Imported ops are screened:
file, Python-callback and printing ops are refused, so replaying a graph reads and writes nothing.
"""
import base64
import builtins
import inspect
import json
import types

import numpy as np
from tensorflow.python.framework import ops as tf_ops  # the collections' proto (de)serializers

from .graph_checks import CallRecorder, check_file, learner_assert, run_check, tf

# Ops the replay does not run: they reach files, Python callbacks, other processes or the output.
REFUSED_WORDS = ('File', 'Save', 'Restore', 'Reader', 'Writer', 'Summary', 'PyFunc', 'Print', 'Checkpoint',
                 'Debug', 'Dataset', 'Iterator', 'Rpc', 'Remote', 'Collective', 'Send', 'Recv', 'TPU', 'Tpu')
REFUSED_OPS = {'ImmutableConst', 'MatchingFiles', 'ShardedFilename', 'LoadAndRemapMatrix'}


def refused_op(op_type):
    return op_type in REFUSED_OPS or any(word in op_type for word in REFUSED_WORDS)


SKIPPED_COLLECTIONS = ('__varscope', '__variable_store')  # Python-side state of the learner's process
LONGEST_MESSAGE = 2000
LARGEST_ARRAY = 1_000_000


class ReplayMismatch(AssertionError):
    """The record does not answer the calls the check makes when replayed."""


class LearnerAssertionError(AssertionError):
    """An assert in the learner's code, as recorded: `where` names the function and the statement."""

    def __init__(self, message, where):
        super().__init__(message)
        self.learner_where = where


class Opaque:
    """A value the record could only name (a learner's own object)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f'<{self.type_name} from the submission>'


def is_learner_function(value):
    return isinstance(value, types.FunctionType) and value.__code__.co_filename.startswith('<notebook')


def is_check_callable(value):
    """A function of the checks' own (a recorder, a scripted network, a loss) handed to the learner's code."""
    code = getattr(value, '__code__', None)
    return isinstance(value, CallRecorder) or (code is not None and check_file(code.co_filename))


def with_globals(function, namespace, name, signature):
    """`function` re-made with `namespace` as its __globals__ (the checks read the learner's namespace there)."""
    made = types.FunctionType(function.__code__, namespace, name, function.__defaults__, function.__closure__)
    made.__signature__, made.__qualname__ = signature, name
    return made


class Graphs:
    """Ops by creation index, per graph, in the order graphs are first seen: the same code makes the same ops in
    the same order, so an index names an op in both runs."""

    def __init__(self):
        self.graphs, self._ops = [], []

    def graph_id(self, graph=None):
        graph = graph or tf.get_default_graph()
        if not any(graph is g for g in self.graphs):
            self.graphs.append(graph)
            self._ops.append({})
        return next(k for k, g in enumerate(self.graphs) if g is graph)

    def index(self, op):
        ids = self._ops[self.graph_id(op.graph)]
        if op.name not in ids:
            ids.update((o.name, k) for k, o in enumerate(op.graph.get_operations()))
        return self.graph_id(op.graph), ids[op.name]

    def op(self, graph_id, index):
        operations = self.graphs[graph_id].get_operations()
        if not 0 <= index < len(operations):
            raise ReplayMismatch(f'the record names op {index} of a graph with {len(operations)}')
        return operations[index]


def encode(value, graphs, path=()):
    """A JSON form of a value crossing between the check and the learner's code."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if graphs is None and isinstance(value, (tf.Tensor, tf.Operation, tf.Variable)):
        return {'opaque': type(value).__name__}  # a default argument: no graph to name it in
    if isinstance(value, tf.Tensor):
        return {'tensor': [*graphs.index(value.op), value.value_index]}
    if isinstance(value, tf.Operation):
        return {'op': list(graphs.index(value))}
    if isinstance(value, tf.Variable):
        return {'variable': value.name}
    if isinstance(value, (tuple, list)):
        return {type(value).__name__ if type(value) in (tuple, list) else 'tuple':
                [encode(v, graphs, (*path, k)) for k, v in enumerate(value)]}
    if isinstance(value, dict):
        return {'dict': [[encode(k, graphs), encode(v, graphs, (*path, k))] for k, v in value.items()]}
    if isinstance(value, (np.ndarray, np.generic)) and np.size(value) <= LARGEST_ARRAY and \
            value.dtype.kind in 'biuf':
        return {'array': np.asarray(value).tolist(), 'dtype': str(value.dtype), 'scalar': np.ndim(value) == 0}
    if isinstance(value, tf.DType):
        return {'dtype': value.name}
    if callable(value):
        return {'callable': list(path)}
    return {'opaque': type(value).__name__}


def decode(form, graphs):
    """The check's side of an encoded value (tensors and ops of the replayed graph)."""
    if not isinstance(form, dict):
        return form
    kind, = form.keys() - {'dtype', 'scalar'} or {'dtype'}
    if kind == 'tensor':
        graph_id, index, output = form['tensor']
        outputs = graphs.op(graph_id, index).outputs
        if not 0 <= output < len(outputs):
            raise ReplayMismatch(f'the record names output {output} of an op with {len(outputs)}')
        return outputs[output]
    if kind == 'op':
        return graphs.op(*form['op'])
    if kind == 'variable':
        found = [v for v in tf.global_variables() if v.name == form['variable']]
        return found[0] if found else Opaque('Variable')
    if kind in ('tuple', 'list'):
        return (tuple if kind == 'tuple' else list)(decode(v, graphs) for v in form[kind])
    if kind == 'dict':
        return {_hashable(decode(k, graphs)): decode(v, graphs) for k, v in form['dict']}
    if kind == 'array':
        value = np.array(form['array'], dtype=np.dtype(form['dtype']))
        return value[()] if form.get('scalar') else value
    if kind == 'dtype':
        return tf.as_dtype(form['dtype'])
    return Opaque(form.get('opaque', 'object'))


def _hashable(key):
    return key if isinstance(key, (str, int, float, bool, type(None), tuple)) else repr(key)


def describe_error(error):
    where = learner_assert(error) if isinstance(error, AssertionError) else None
    return {'type': type(error).__name__, 'message': str(error)[:LONGEST_MESSAGE], 'learner_where': where,
            'op_error': isinstance(error, tf.errors.OpError)}


def rebuild_error(form):
    """The recorded exception as one the check can catch as it would have caught the original."""
    name, message = form['type'], form['message']
    if form.get('learner_where') is not None:
        return LearnerAssertionError(message, form['learner_where'])
    if form.get('op_error'):
        kind = getattr(tf.errors, name, tf.errors.UnknownError)
        return kind(None, None, message)
    builtin = _builtin_exception(name)
    return builtin(message) if builtin else type(name, (Exception,), {})(message)


def _builtin_exception(name):
    kind = getattr(builtins, name, None)
    return kind if isinstance(kind, type) and issubclass(kind, Exception) else None


def encode_signature(function):
    parameters = []
    for p in inspect.signature(function).parameters.values():
        default = None if p.default is inspect.Parameter.empty else encode(p.default, None)
        parameters.append([p.name, int(p.kind), p.default is not inspect.Parameter.empty, default])
    return parameters


def decode_signature(form):
    return inspect.Signature([inspect.Parameter(name, inspect._ParameterKind(kind),
                                                default=decode(default, None) if has else inspect.Parameter.empty)
                              for name, kind, has, default in form])


# --- the record, in the learner's process ----------------------------------------------------------

class Recorder:
    """Wraps a learner's namespace so that each call between the check and the learner's code is recorded."""

    def __init__(self, namespace):
        self.namespace, self.graphs, self.events = namespace, Graphs(), []
        self.in_learner, self.segment = False, None
        self.functions = {name: encode_signature(value) for name, value in namespace.items()
                          if is_learner_function(value)}
        for name in self.functions:
            namespace[name] = self._learner(name, namespace[name])

    def _learner(self, name, function):
        recorder, encode_value, error_form = self, encode, describe_error  # closures: its globals are the learner's

        def learner_call(*args, **kwargs):
            if recorder.in_learner:
                return function(*args, **kwargs)
            event = {'kind': 'enter', 'function': name, 'args': encode_value((args, kwargs), recorder.graphs)}
            args, kwargs, restore = recorder._outgoing_wrapped(args, kwargs)
            recorder._start(event)
            try:
                result = function(*args, **kwargs)
            except BaseException as e:
                recorder._end({'kind': 'raise', 'error': error_form(e)})
                raise
            finally:
                restore()
            recorder._end({'kind': 'return', 'value': encode_value(result, recorder.graphs)})
            return result
        return with_globals(learner_call, self.namespace, name, inspect.signature(function))

    def _outgoing_wrapped(self, args, kwargs):
        """The arguments and namespace with each of the checks' functions wrapped to record the learner calling it."""
        args = tuple(self._outgoing(('arg', 0, k), a) if is_check_callable(a) else a for k, a in enumerate(args))
        kwargs = {k: self._outgoing(('arg', 1, k), a) if is_check_callable(a) else a for k, a in kwargs.items()}
        saved = {k: v for k, v in self.namespace.items() if is_check_callable(v)}
        self.namespace.update({k: self._outgoing(('global', k), v) for k, v in saved.items()})

        def restore():
            self.namespace.update({k: v for k, v in saved.items() if getattr(self.namespace.get(k), 'wraps', 0)})
        return args, kwargs, restore

    def _outgoing(self, target, function):
        recorder = self

        def check_call(*args, **kwargs):
            if not recorder.in_learner:
                return function(*args, **kwargs)
            recorder._end({'kind': 'call', 'target': list(target), 'args': encode((args, kwargs), recorder.graphs)})
            try:
                result = function(*args, **kwargs)
            except BaseException as e:
                recorder._start({'kind': 'raised', 'error': describe_error(e)})
                raise
            recorder._start({'kind': 'result', 'value': encode(result, recorder.graphs)})
            return result
        check_call.wraps = function
        return check_call

    def _start(self, event):
        """Learner code runs from here: note the graph's ops, names and collections."""
        graph = tf.get_default_graph()
        event.update(graph=self.graphs.graph_id(graph), ops=len(graph.get_operations()))
        self.events.append(event)
        self.segment = (graph, len(graph.get_operations()), dict(graph._names_in_use),
                        {key: list(graph.get_collection(key)) for key in graph.get_all_collection_keys()})
        self.in_learner = True

    def _end(self, event):
        """Learner code stops here: what it added to the graph goes with the event."""
        graph, start, names, collections = self.segment
        operations = graph.get_operations()
        event['segment'] = {
            'graph': self.graphs.graph_id(graph), 'start': start, 'ops': [op.name for op in operations[start:]],
            'names': {k: v for k, v in graph._names_in_use.items() if names.get(k) != v},
            'collections': self._collections_added(graph, collections)}
        event.update(graph=self.graphs.graph_id(), ops=len(tf.get_default_graph().get_operations()))
        self.events.append(event)
        self.in_learner = False

    def _collections_added(self, graph, before):
        added = {}
        for key in graph.get_all_collection_keys():
            if not isinstance(key, str) or key in SKIPPED_COLLECTIONS:
                continue
            items, old = graph.get_collection(key), before.get(key, [])
            replace = len(items) < len(old) or any(a is not b for a, b in zip(items, old))
            new = items if replace else items[len(old):]
            if new or replace:
                added[key] = {'replace': replace, 'items': [self._collection_item(key, item) for item in new]}
        return added

    def _collection_item(self, key, item):
        to_proto = tf_ops.get_to_proto_function(key)
        if to_proto is not None:
            try:
                return {'proto': base64.b64encode(to_proto(item).SerializeToString()).decode()}
            except Exception:
                return {'opaque': type(item).__name__}
        return encode(item, self.graphs)

    def text(self, outcome):
        """The record: the events, every graph's NodeDefs and op order, and the outcome the learner's process saw."""
        graphs = [{'graph_def': base64.b64encode(g.as_graph_def().SerializeToString()).decode(),
                   'ops': [op.name for op in g.get_operations()]} for g in self.graphs.graphs]
        return json.dumps({'functions': self.functions, 'events': self.events, 'graphs': graphs, 'outcome': outcome})


# --- the replay, in the grader's process -----------------------------------------------------------

class Replay:
    """Stand-ins for the learner's functions that answer the check's calls from a record."""

    def __init__(self, record):
        self.events, self.position, self.graphs = record['events'], 0, Graphs()
        self.recorded = []
        for g in record['graphs']:
            graph_def = tf.GraphDef()
            graph_def.ParseFromString(base64.b64decode(g['graph_def']))
            self.recorded.append(({node.name: node for node in graph_def.node}, g['ops'],
                                  {name: k for k, name in enumerate(g['ops'])}, graph_def))
        self.namespace, self.protos = {}, {}
        for name, signature in record['functions'].items():
            self.namespace[name] = self._stand_in(name, decode_signature(signature))

    def _stand_in(self, name, signature):
        replay = self

        def learner_call(*args, **kwargs):
            return replay._answer(name, args, kwargs)
        return with_globals(learner_call, self.namespace, name, signature)

    def _next(self, kinds, what):
        if self.position >= len(self.events):
            raise ReplayMismatch(f'the record ends where the check {what}')
        event = self.events[self.position]
        self.position += 1
        if event.get('kind') not in kinds:
            raise ReplayMismatch(f'the record has {event.get("kind")} where the check {what}')
        graph = tf.get_default_graph()
        if 'segment' not in event and (self.graphs.graph_id(graph) != event.get('graph')
                                       or len(graph.get_operations()) != event.get('ops')):
            raise ReplayMismatch(f'the graph differs from the record where the check {what}')
        return event

    def _answer(self, name, args, kwargs):
        event = self._next({'enter'}, f'calls {name}')
        if event['function'] != name or event['args'] != encode((args, kwargs), self.graphs):
            raise ReplayMismatch(f'the check calls {name} with other arguments than the record has')
        pending = None
        while True:
            event = self._next({'call', 'return', 'raise'}, f'waits for {name}')
            self._import(event['segment'])
            if event['kind'] == 'return':
                return decode(event['value'], self.graphs)
            if event['kind'] == 'raise':
                if pending is not None and type(pending).__name__ == event['error']['type']:
                    raise pending
                raise rebuild_error(event['error'])
            pending = self._call_back(event, args, kwargs)

    def _call_back(self, event, args, kwargs):
        """Call the check's own function the learner's code called; the exception it raised, if any."""
        target = event['target']
        if target[0] == 'global':
            function = self.namespace.get(target[1])
        else:
            holder = args if target[1] == 0 else kwargs
            function = holder[target[2]] if (target[2] in holder if isinstance(holder, dict) else
                                             0 <= target[2] < len(holder)) else None
        if not callable(function) or is_learner_function(function):
            raise ReplayMismatch(f'the record calls {target[-1]}, which the check did not hand over')
        call_args, call_kwargs = decode(event['args'], self.graphs)
        try:
            result, error = function(*call_args, **call_kwargs), None
        except Exception as e:
            result, error = None, e
        answer = self._next({'result', 'raised'}, f'returns from {target[-1]}')
        if error is not None:
            if answer['kind'] != 'raised' or answer['error']['type'] != type(error).__name__:
                raise ReplayMismatch(f'{target[-1]} raised {type(error).__name__} here, not in the record')
            return error
        if answer['kind'] != 'result' or answer['value'] != encode(result, self.graphs):
            raise ReplayMismatch(f'{target[-1]} returned another result than the record has')
        return None

    def _import(self, segment):
        graph = tf.get_default_graph()
        graph_id = self.graphs.graph_id(graph)
        if segment['graph'] != graph_id or len(graph.get_operations()) != segment['start']:
            raise ReplayMismatch('the graph differs from the record where the learner code starts')
        nodes, names, index, recorded = self.recorded[graph_id]
        new = set(segment['ops'])
        graph_def, input_map, late = tf.GraphDef(), {}, []
        graph_def.versions.CopyFrom(recorded.versions)
        graph_def.library.CopyFrom(recorded.library)
        for name in segment['ops']:
            if name not in nodes:
                raise ReplayMismatch(f'the record lists op {name} but holds no definition of it')
            node = graph_def.node.add()
            node.CopyFrom(nodes[name])
            if refused_op(node.op):
                raise AssertionError(f'the graph uses a {node.op} op ({name}), which the grader does not run: '
                                     'graded functions build their networks from TensorFlow math ops only')
            node.device = ''
            node.attr.pop('_class', None)
            for k, source in reversed(list(enumerate(node.input))):
                op_name = source.lstrip('^').split(':')[0]
                if op_name in new:
                    continue
                if op_name not in index:
                    raise ReplayMismatch(f'op {name} reads {op_name}, which the record does not have')
                existing = self.graphs.op(graph_id, index[op_name])
                if source.startswith('^'):
                    late.append((len(graph_def.node) - 1, existing))
                    del node.input[k]
                else:
                    output = int(source.split(':')[1]) if ':' in source else 0
                    input_map[f'{op_name}:{output}'] = existing.outputs[output]
        if graph_def.node:
            tf.import_graph_def(graph_def, input_map=input_map, name='')
        imported = graph.get_operations()[segment['start']:]
        if [op.name for op in imported] != segment['ops']:
            raise ReplayMismatch("the learner's ops could not take their recorded names in the replayed graph")
        for position, control in late:
            imported[position]._add_control_input(control)
        graph._names_in_use.update(segment['names'])
        for key, added in segment['collections'].items():
            if added['replace']:
                graph.clear_collection(key)
            for item in added['items']:
                value = self._collection_value(key, item)
                if value is not None:
                    graph.add_to_collection(key, value)

    def _collection_value(self, key, item):
        if 'proto' not in item:
            value = decode(item, self.graphs)
            return None if isinstance(value, Opaque) else value
        known = (self.graphs.graph_id(), item['proto'])
        if known not in self.protos:  # one object for a variable in several collections of a graph
            proto = tf_ops.get_collection_proto_type(key)()
            proto.ParseFromString(base64.b64decode(item['proto']))
            self.protos[known] = tf_ops.get_from_proto_function(key)(proto)
        return self.protos[known]


def record(check, function_name, namespace):
    """Run `check` on the learner's function in `namespace`: the record, as JSON text. Its outcome as the learner's
    process saw it goes with it, for the record only: the replay decides."""
    recorder = Recorder(namespace)
    try:
        outcome = {'passed': True, 'suggestions': run_check(check, namespace[function_name])}
    except BaseException as e:
        outcome = {'passed': False, 'error': describe_error(e)}
    return recorder.text(outcome)


def replay(check, function_name, record_data):
    """The suggestions of `check` replayed from a record (AssertionError when it fails)."""
    stand_ins = Replay(record_data)
    function = stand_ins.namespace.get(function_name)
    if function is None:
        raise AssertionError(f'{function_name} is not defined')
    return run_check(check, function)
