"""The code behind helper.py: data download, preprocessing, batching and TensorFlow set-up."""
