"""A check replayed from a record gives the verdict the check gives in-process, on every case the graded checks'
own tests hold (right code and wrong code, both notebooks), and a record that was tampered with fails."""
import json

import pytest

import problem_unittests as tests
import test_gan_variants as variants
import test_problem_unittests as face
from dlnd.checks import replay
from dlnd.notebook import GRADED, VARIANTS_GRADED
from edits import edited
from learner_solutions import SOLUTIONS

tf = tests.tf


def verdict(run):
    try:
        return 'passed', run()
    except AssertionError as e:
        return 'failed', str(e)


def recorded(name, functions):
    return json.loads(replay.record(getattr(tests, f'test_{name}').check, name, functions))


def in_process_and_replayed(name, make_functions):
    """(the check's verdict on the functions in this process, its verdict replayed from their record)."""
    check = getattr(tests, f'test_{name}').check
    direct = verdict(lambda: tests.run_check(check, make_functions()[name]))
    data = recorded(name, make_functions())
    return direct, verdict(lambda: replay.replay(check, name, data))


def solution_functions(solution, replacements=()):
    functions = edited(tf, face.SOLUTION, replacements)
    for code in solution.values():
        exec(compile(code, '<notebook solution>', 'exec'), functions)
    return functions


FACE_CASES = [(name, {}, []) for name in GRADED] + \
    [(name, solution, []) for solution, _ in SOLUTIONS.values() for name in GRADED] + \
    [(case[0], {}, case[1]) for case in face.ACCEPTED + face.MISTAKES]


@pytest.mark.parametrize('name, solution, replacements', FACE_CASES,
                         ids=[f'{case[0]}-{k}' for k, case in enumerate(FACE_CASES)])
def test_face_generation_verdicts_replay_as_in_process(name, solution, replacements):
    direct, replayed = in_process_and_replayed(name, lambda: solution_functions(solution, replacements))
    assert replayed == direct


VARIANT_CASES = [(name, []) for name in VARIANTS_GRADED] + [(case[0], case[1])
                                                             for case in variants.ACCEPTED + variants.MISTAKES]


@pytest.mark.parametrize('name, replacements', VARIANT_CASES,
                         ids=[f'{case[0]}-{k}' for k, case in enumerate(VARIANT_CASES)])
def test_gan_family_verdicts_replay_as_in_process(name, replacements):
    direct, replayed = in_process_and_replayed(name, lambda: edited(tf, variants.SOLUTION, replacements))
    assert replayed == direct


def test_the_mistakes_fail_in_the_replay_too():
    assert sum(case[0] in GRADED for case in face.MISTAKES) >= 20 and len(variants.MISTAKES) >= 15


def test_a_record_whose_calls_differ_from_the_checks_fails():
    data = recorded('discriminator', solution_functions({}))
    enter = next(e for e in data['events'] if e['kind'] == 'enter')
    enter['args'] = {'tuple': [{'tuple': []}, {'dict': []}]}  # as if the check had called discriminator()
    status, message = verdict(lambda: replay.replay(tests.test_discriminator.check, 'discriminator', data))
    assert status == 'failed' and 'other arguments than the record has' in message


def test_a_record_cut_short_fails():
    data = recorded('model_loss', solution_functions({}))
    data['events'] = data['events'][:3]
    status, message = verdict(lambda: replay.replay(tests.test_model_loss.check, 'model_loss', data))
    assert status == 'failed' and 'the record ends where the check' in message


def test_a_recorded_graph_that_reads_files_is_refused():
    reads_a_file = face.SOLUTION.replace("with tf.variable_scope('discriminator', reuse=reuse):",
                                         "tf.io.read_file('/etc/hostname')\n"
                                         "    with tf.variable_scope('discriminator', reuse=reuse):")
    assert reads_a_file != face.SOLUTION
    from dlnd.notebook import load_functions
    data = recorded('discriminator', load_functions(tf, reads_a_file))
    status, message = verdict(lambda: replay.replay(tests.test_discriminator.check, 'discriminator', data))
    assert status == 'failed' and 'ReadFile op' in message and 'does not run' in message


def test_the_learners_own_assert_is_named_in_the_replay():
    from dlnd.notebook import load_functions
    asserting = face.SOLUTION.replace("    d_vars = ", "    assert False, 'my own check'\n    d_vars = ", 1)
    assert asserting != face.SOLUTION
    data = recorded('model_opt', load_functions(tf, asserting))
    status, message = verdict(lambda: replay.replay(tests.test_model_opt.check, 'model_opt', data))
    assert status == 'failed' and "an assert in your own code failed (model_opt: `assert False, 'my own check'`)" \
        in message
