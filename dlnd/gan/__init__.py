"""The GAN family (gan_family), a trained generator's images (generate), and the quality metrics the notebooks
print (evaluation, metrics, mnist_classifier)."""
