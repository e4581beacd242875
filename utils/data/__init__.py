"""Data sets: the legacy MNIST / Fashion-MNIST reader (mnist), the image sets of the Soft-IntroVAE
experiments (images) and the 2D toy densities (toy)."""
