"""Wrong and right code made by editing a notebook's reference solution, as the graded checks' tests use it."""
import pytest

from dlnd.notebook import load_functions


def edited(tf, source, replacements):
    """The functions of `source` with each (text, replacement) applied; every text must be there."""
    for original, replacement in replacements:
        assert source.count(original) >= 1, f'the notebook no longer contains {original!r}; update this case'
        source = source.replace(original, replacement)
    return load_functions(tf, source)


def case_ids(cases):
    return [f'{case[0]}-{k}' for k, case in enumerate(cases)]


def assert_caught(test, function, message):
    """The graded test fails `function` with a one-line message containing `message`."""
    with pytest.raises(AssertionError) as error:
        test(function)
    text = str(error.value)
    assert message in text and '\n' not in text, text
