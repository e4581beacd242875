from setuptools import find_packages, setup

setup(
    name="lagvae",
    version="0.1.0",
    description="TensorFlow 2 / Keras reproduction of the Lagrangian VAE family (UAI 2018) and "
                "Soft-IntroVAE with a learned prior (TMLR 2025)",
    python_requires=">=3.10",
    packages=find_packages(include=["methods", "utils", "utils.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tf-keras>=2.21,<2.22",            # only so that tensorflow-probability imports
        "tensorflow-probability==0.25.0",
        "tensorboard>=2.21,<2.22",         # tf.summary needs it
        "tensorflow-datasets==4.9.10",
        "importlib_resources",             # tensorflow-datasets 4.9.10 fails without it
        "click>=8",
        "gputil>=1.4",
        "tqdm>=4",
        "matplotlib>=3.7",                 # figures
        "scipy>=1.10",                     # matrix square root of the Frechet distance
        "scikit-learn>=1.3",               # linear-SVM / k-NN accuracy of latent codes
        "ray[default]==2.60.0",            # sweeps: embedded local Ray or a cluster (examples/sweep.py)
    ],
    extras_require={"test": ["pytest>=7"]},
)
