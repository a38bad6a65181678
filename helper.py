"""Data for the face-generation project and the GAN family: download, check, crop and batch MNIST, CelebA
and the Oxford 102 Flowers.

    import helper
    tf = helper.import_tensorflow()           # tensorflow.compat.v1 with working tf.layers
    helper.download_extract('mnist', './data')
    mnist = helper.Dataset('mnist', './data')
    for batch in mnist.get_batches(64): ...   # float32 (64, 28, 28, 1) in [-1, 1]
    for images, labels in mnist.get_batches(64, labels=True): ...   # and one-hot digits (64, 10)

Set DLND_DATA_SOURCE to a local folder or base URL to try it before the public mirrors
(its layout: mnist/*.gz, celeba/img_align_celeba/ or celeba/img_align_celeba.zip,
flowers/102flowers.tgz or flowers/oxford102_test/<class>/).
The code lives in the dlnd package; this module keeps the course's names.
"""
from dlnd.tf_setup import set_tensorflow_environment

set_tensorflow_environment()  # before anything imports TensorFlow, so tf.layers gets Keras 2

from dlnd.data.dataset import (Dataset, download_extract, get_batch, grid_display, images_grid,  # noqa: E402
                          images_square_grid, one_hot)
from dlnd.data.download import SOURCE_ENV  # noqa: E402
from dlnd.fileio import DataError  # noqa: E402
from dlnd.tf_setup import device_summary, import_tensorflow, session_config  # noqa: E402

__all__ = ['DataError', 'Dataset', 'SOURCE_ENV', 'device_summary', 'download_extract', 'get_batch',
           'grid_display', 'images_grid', 'images_square_grid', 'import_tensorflow', 'one_hot', 'session_config']
