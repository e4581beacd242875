"""The authors' image metrics (athaioan/intro_prior images/metrics/), usable with any generator (arrays in,
numbers out).

- `frechet_distance`: the pytorch-fid / TTUR numerics (scipy sqrtm, eps offset when the product is
  singular, real part);
- `InceptionFeatures`: pool_3 features (2048-d) of the standard FID Inception network, the TF frozen graph
  `classify_image_graph_def.pb` of `inception-2015-12-05.tgz`, loaded from a file the user points to;
- `precision_recall`: k-NN manifold precision / recall as `marcojira/fld`
  (athaioan/intro_prior `images/metrics/precision_recall.py`);
- `latent_classification_accuracy`: linear SVM / k-NN on one sampled z per image
  (athaioan/intro_prior `images/metrics/classification_metrics.py`);
- `inactive_modes`: prior components with weight < 1/K^2 (2D/utils/plumbing/results.py).
FD-LeNet (an offline Frechet distance on a small classifier's features) lives in methods/feature_classifier.py.
"""
import os
import warnings

import numpy as np
from scipy import linalg

from utils.plumbing.errors import UserError

INCEPTION_ARCHIVE_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
INCEPTION_GRAPH_FILE = "classify_image_graph_def.pb"
# TTUR feeds 'ExpandDims:0' (float RGB in [0, 255], [N, H, W, 3]); the graph resizes to 299 and maps to
# [-1, 1] itself. We resize to 299 first, so the graph's own resize is the identity.
INCEPTION_INPUT = "ExpandDims:0"
INCEPTION_OUTPUT = "pool_3:0"
INCEPTION_SIZE = 299


def feature_statistics(features):
    """Mean and covariance (rows = samples) of a feature array, in float64."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """||mu1-mu2||^2 + tr(S1 + S2 - 2 sqrt(S1 S2)), as pytorch-fid `calculate_frechet_distance`
    (athaioan/intro_prior `images/metrics/fid_score.py:323-374`): an eps*I offset when sqrtm is not finite, real
    part kept."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("the two feature statistics have different dimensions")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # pytorch-fid calls sqrtm(disp=False): no singular-matrix warning
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("imaginary component %g in sqrtm" % np.max(np.abs(covmean.imag)))
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def frechet_distance_of_features(features1, features2):
    """Frechet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def quantize_generated(images):
    """The authors' treatment of generated images before FID: clip(255 x, 0, 255).astype(uint8) / 255
    (athaioan/intro_prior `images/metrics/fid_score.py:159-233`)."""
    return np.clip(255.0 * np.asarray(images, dtype=np.float32), 0, 255).astype(np.uint8).astype(np.float32) / 255.0


class InceptionFeatures:
    """pool_3 features of the FID Inception network from `classify_image_graph_def.pb`.

    The file comes from inception-2015-12-05.tgz (INCEPTION_ARCHIVE_URL), the network of TTUR / TF-FID; the
    pytorch-fid weights `pt_inception-2015-12-05` are a port of it. Nothing is ever downloaded here.
    Call with images NHWC in [0, 1], 1 or 3 channels: gray is repeated to RGB, bilinear resize to 299
    (half-pixel, torch `align_corners=False`), scaled to [0, 255]. Inference mode (a standard FID; the
    authors' tabulated FID ran Inception in train mode, which a frozen graph cannot do).
    """

    def __init__(self, graph_path, batch_size=100):
        self.batch_size = batch_size
        if not graph_path or not os.path.isfile(graph_path):
            raise UserError("Inception graph %r not found: download %s, extract %s from it and pass its path "
                            "(--inception-graph)." % (graph_path, INCEPTION_ARCHIVE_URL, INCEPTION_GRAPH_FILE))
        import tensorflow as tf
        graph_def = tf.compat.v1.GraphDef()
        try:
            with open(graph_path, "rb") as stream:
                graph_def.ParseFromString(stream.read())
        except Exception as error:
            raise UserError("%s is not a TensorFlow GraphDef (%s): use %s from %s."
                            % (graph_path, type(error).__name__, INCEPTION_GRAPH_FILE, INCEPTION_ARCHIVE_URL))
        names = {node.name for node in graph_def.node}
        for tensor in (INCEPTION_INPUT, INCEPTION_OUTPUT):
            if tensor.split(":")[0] not in names:
                raise UserError("%s has no tensor %s: it is not the FID Inception graph; use %s from %s."
                                % (graph_path, tensor, INCEPTION_GRAPH_FILE, INCEPTION_ARCHIVE_URL))

        def import_graph(images):
            (pool,) = tf.compat.v1.import_graph_def(
                graph_def, input_map={INCEPTION_INPUT: images}, return_elements=[INCEPTION_OUTPUT], name="")
            return pool

        spec = tf.TensorSpec([None, INCEPTION_SIZE, INCEPTION_SIZE, 3], tf.float32)
        wrapped = tf.compat.v1.wrap_function(import_graph, [spec])
        self._features = wrapped.prune(wrapped.inputs, wrapped.outputs)
        self._tf = tf

    def preprocess(self, images):
        """[N,H,W,1|3] in [0,1] -> [N,299,299,3] in [0,255]."""
        tf = self._tf
        images = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        images = tf.image.resize(images, [INCEPTION_SIZE, INCEPTION_SIZE], method="bilinear", antialias=False)
        return images * 255.0

    def __call__(self, images):
        outputs = []
        for start in range(0, len(images), self.batch_size):
            batch = self.preprocess(images[start:start + self.batch_size])
            features = self._features(batch)
            if isinstance(features, (list, tuple)):
                features = features[0]
            outputs.append(np.asarray(features).reshape(batch.shape[0], -1))
        return np.concatenate(outputs, axis=0)


def _pairwise_distances(a, b):
    """Euclidean distances between the rows of a and b (float64)."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a.dot(b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def nearest_neighbour_radii(features, num_neighbors, batch_size=10000):
    """Distance of each row to its `num_neighbors`-th nearest row, itself included (topk incl. self)."""
    features = np.asarray(features, dtype=np.float64)
    if len(features) < num_neighbors:
        raise ValueError("k-NN radii with topk(%d) need at least %d points, got %d"
                         % (num_neighbors, num_neighbors, len(features)))
    radii = np.empty(len(features))
    for start in range(0, len(features), batch_size):
        distances = _pairwise_distances(features[start:start + batch_size], features)
        radii[start:start + batch_size] = np.partition(distances, num_neighbors - 1, axis=1)[:, num_neighbors - 1]
    return radii


def fraction_in_manifold(evaluated, manifold, num_neighbors, batch_size=10000):
    """Fraction of `evaluated` rows strictly inside at least one ball around a `manifold` row, with radius
    the distance to that row's `num_neighbors`-th nearest manifold row (self included), as `fld`."""
    evaluated, manifold = np.asarray(evaluated, dtype=np.float64), np.asarray(manifold, dtype=np.float64)
    radii = nearest_neighbour_radii(manifold, num_neighbors, batch_size)
    inside = 0
    for start in range(0, len(evaluated), batch_size):
        distances = _pairwise_distances(evaluated[start:start + batch_size], manifold)
        inside += int((distances < radii[None, :]).any(axis=1).sum())
    return inside / float(len(evaluated))


def precision_recall(real_features, fake_features, precision_neighbors=4, recall_neighbors=5):
    """(precision, recall) as the authors' athaioan/intro_prior `images/metrics/precision_recall.py:329-354`:
    precision = generated inside a real ball (topk(4): 3rd NN), recall = real inside a generated ball
    (topk(5): 4th NN)."""
    return (fraction_in_manifold(fake_features, real_features, precision_neighbors),
            fraction_in_manifold(real_features, fake_features, recall_neighbors))


def latent_classification_accuracy(train_z, train_labels, test_z, test_labels, seed=0):
    """Test accuracies of linear SVMs (C=0.025, max_iter 2000 / 10000) and k-NN (k=5 / 100) on latent codes,
    features standardised with a StandardScaler fitted on train (athaioan/intro_prior
    `images/metrics/classification_metrics.py`)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    scaler = StandardScaler().fit(train_z)
    train_z, test_z = scaler.transform(train_z), scaler.transform(test_z)
    classifiers = {
        "svm_few": SVC(kernel="linear", C=0.025, max_iter=2000, random_state=seed),
        "svm_many": SVC(kernel="linear", C=0.025, max_iter=10000, random_state=seed),
        "knn_few": KNeighborsClassifier(n_neighbors=min(5, len(train_z))),
        "knn_many": KNeighborsClassifier(n_neighbors=min(100, len(train_z))),
    }
    accuracies = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter caps are the authors' settings
        for name, classifier in classifiers.items():
            classifier.fit(train_z, train_labels)
            accuracies[name] = float((classifier.predict(test_z) == np.asarray(test_labels)).mean())
    return accuracies


def inactive_modes(weights):
    """Number of prior components with mixing weight < 1/K^2 (the authors' inactive-mode criterion)."""
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    return int((weights < 1.0 / len(weights) ** 2).sum())
