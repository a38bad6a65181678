"""The data layer: download, check and prepare MNIST, CelebA and Oxford-102 flowers, and batch them (helper.py
calls it)."""
