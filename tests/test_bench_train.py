"""bench/bench_train.py --primitives: oneDNN's timing of the notebook's kernels, read from a real profiled run."""
import importlib.util
import os

import pytest

from conftest import ROOT
from dlnd.tf_setup import has_nvidia_gpu

spec = importlib.util.spec_from_file_location('bench_train', ROOT / 'bench' / 'bench_train.py')
bench_train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_train)

DISCRIMINATOR_CONVOLUTIONS = ('mb64_ic1oc32_ih28oh14', 'mb64_ic32oc64_ih14oh7', 'mb64_ic64oc128_ih7oh4')


@pytest.mark.skipif(has_nvidia_gpu(), reason="on a GPU the notebook's convolutions are not oneDNN's")
def test_a_profiled_run_times_each_direction_of_every_convolution_in_the_timed_steps_only():
    steps = 3
    output = bench_train.variant_output('notebook', steps, 1, None, profiled=True)
    ms, implementations = bench_train.kernel_ms(output, steps)
    timed = {(direction, problem.split('kh')[0]) for primitive, direction, problem in ms if primitive == 'convolution'}
    for shape in DISCRIMINATOR_CONVOLUTIONS:
        for direction in ('forward_training', 'backward_data', 'backward_weights'):
            assert (direction, shape) in timed
    assert all(value > 0 for value in ms.values())
    assert all(implementations[key] for key in ms if key[0] == 'convolution')  # e.g. brg_conv_fwd:avx512_core
    # Kernels run at most one per inter-op thread (one per core) at a time: a sum above that bound would mean the
    # warm-up steps' kernels (5 steps, the first of them creating every kernel) or the matmul peak's were counted.
    step_ms = bench_train.BATCH / bench_train.rates_printed(output)['images_per_s'] * 1000
    assert sum(ms.values()) <= os.cpu_count() * step_ms
