"""Image metrics: Frechet distance, the Inception loader (on a fake graph), precision / recall, latent
classification, inactive modes, FD-LeNet."""
import numpy as np
import pytest
import tensorflow as tf

from utils.plumbing.errors import UserError
from utils.metrics.images import (InceptionFeatures, frechet_distance, frechet_distance_of_features,
                                 fraction_in_manifold, inactive_modes, latent_classification_accuracy, nearest_neighbour_radii,
                                 precision_recall, quantize_generated)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3.0, 6), rng.uniform(0.1, 3.0, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)
    # a full covariance: rotating both by the same orthogonal matrix changes nothing
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert frechet_distance(q @ mu1, q @ np.diag(s1) @ q.T, q @ mu2, q @ np.diag(s2) @ q.T) == pytest.approx(
        expected, rel=1e-7)
    # singular covariances (rank 1): the eps offset path still gives the closed form
    singular = np.diag([1.0, 0.0, 0.0])
    assert frechet_distance(np.zeros(3), singular, np.ones(3), singular) == pytest.approx(3.0, abs=1e-4)


def test_frechet_distance_of_samples_approaches_the_population_value():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=(20000, 2))
    b = rng.normal(1.0, 2.0, size=(20000, 2))
    # 2 * 1^2 + 2 * (1 + 4 - 2*2) = 4
    assert frechet_distance_of_features(a, b) == pytest.approx(4.0, abs=0.1)
    assert frechet_distance_of_features(a, a) == pytest.approx(0.0, abs=1e-6)


def _write_fake_inception(path, output="pool_3"):
    """A GraphDef with the FID graph's tensor names: pool_3 = per-channel max of ExpandDims * (1, 2, 3)."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="ExpandDims")
        tf.reduce_max(x * tf.constant([1.0, 2.0, 3.0]), axis=[1, 2], keepdims=True, name=output)
    with open(path, "wb") as stream:
        stream.write(graph.as_graph_def().SerializeToString())


def test_inception_loader_feeds_rgb_in_0_255_at_299(tmp_path):
    path = str(tmp_path / "classify_image_graph_def.pb")
    _write_fake_inception(path)
    features = InceptionFeatures(path, batch_size=2)
    gray = np.stack([np.full((28, 28, 1), v, np.float32) for v in (0.0, 0.2, 0.5, 1.0, 0.7)])
    out = features(gray)
    assert out.shape == (5, 3)
    expected = 255.0 * gray[:, 0, 0, 0][:, None] * np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)
    rgb = np.ones((1, 32, 32, 3), np.float32) * np.array([0.1, 0.4, 0.9], np.float32)
    np.testing.assert_allclose(features(rgb), [[25.5, 204.0, 688.5]], rtol=1e-5)
    assert features.preprocess(rgb).shape == (1, 299, 299, 3)


def test_inception_loader_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="inception-2015-12-05.tgz"):
        InceptionFeatures(str(tmp_path / "missing.pb"))
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\x00 this is not a protobuf \xff" * 10)
    with pytest.raises(UserError, match="not a TensorFlow GraphDef"):
        InceptionFeatures(str(junk))
    other = str(tmp_path / "other.pb")
    _write_fake_inception(other, output="logits")
    with pytest.raises(UserError, match="has no tensor pool_3:0"):
        InceptionFeatures(other)


def test_precision_recall_on_point_sets_with_known_answers():
    # real: 5 points on a line at 0..4; 3rd NN (topk(4) incl. self) radii: 3, 2, 2, 2, 3
    real = np.arange(5.0)[:, None]
    np.testing.assert_allclose(nearest_neighbour_radii(real, 4), [3, 2, 2, 2, 3])
    # fakes at 2.5 (inside), 6.5 (|6.5-4| = 2.5 < 3: inside), 7.5 (outside), -3 (exactly 3: strict, outside)
    fake = np.array([[2.5], [6.5], [7.5], [-3.0]])
    assert fraction_in_manifold(fake, real, 4) == pytest.approx(0.25 + 0.25)
    # recall: radii of the fake set with topk(5) are undefined for 4 points -> use 6 fakes clustered at 0
    fake = np.array([[0.0], [0.1], [0.2], [0.3], [0.4], [10.0]])
    # 4th NN radii (topk(5)): 0.4,0.3,0.2,0.3,0.4 and 9.6+ for the far point (distance to 0.4 etc.: 10-0.1=9.9)
    np.testing.assert_allclose(nearest_neighbour_radii(fake, 5)[:5], [0.4, 0.3, 0.2, 0.3, 0.4], atol=1e-12)
    _, recall = precision_recall(real, fake)
    # the far fake's ball (radius 9.9) holds every real point 1..4 and 0 -> recall 1
    assert recall == 1.0
    _, recall = precision_recall(real, fake[:5])
    assert recall == pytest.approx(1 / 5)  # only the real point 0 is inside a ball


def test_latent_classification_on_separable_codes():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10.0, size=(3, 4))
    train_y, test_y = rng.integers(0, 3, 300), rng.integers(0, 3, 60)
    train_z = centres[train_y] + rng.normal(size=(300, 4))
    test_z = centres[test_y] + rng.normal(size=(60, 4))
    accuracies = latent_classification_accuracy(train_z, train_y, test_z, test_y)
    assert set(accuracies) == {"svm_few", "svm_many", "knn_few", "knn_many"}
    assert all(value == 1.0 for value in accuracies.values())
    noise = latent_classification_accuracy(rng.normal(size=(300, 4)), train_y, rng.normal(size=(60, 4)), test_y)
    assert max(noise.values()) < 0.75


def test_inactive_modes_and_quantisation():
    assert inactive_modes([0.5, 0.5]) == 0
    assert inactive_modes([0.9, 0.09, 0.0099, 0.0001]) == 2  # 1/16 = 0.0625
    np.testing.assert_array_equal(quantize_generated(np.array([-0.2, 0.5, 0.9999, 1.3])),
                                  np.array([0, 127, 254, 255], np.float32) / 255)


def test_fd_lenet_trains_caches_and_separates_data_from_noise(tmp_path, shared_data_prefix, monkeypatch):
    from methods.feature_classifier import classifier_accuracy, fd_lenet, load_or_train_feature_classifier
    from utils.data.images import load_image_data
    monkeypatch.setenv("DATA_PREFIX", shared_data_prefix)
    data = load_image_data("mnist", subset=2000)
    model = load_or_train_feature_classifier("mnist", data.train_images, data.train_labels, str(tmp_path), epochs=2)
    assert classifier_accuracy(model, data.test_images, data.test_labels) > 0.7
    cached = load_or_train_feature_classifier("mnist", data.train_images, data.train_labels, str(tmp_path), epochs=2)
    np.testing.assert_allclose(cached.features(data.test_images[:5]), model.features(data.test_images[:5]), rtol=1e-6)
    real, other_real = data.test_images[:1000], data.train_images[:1000]
    noise = np.random.default_rng(0).random(real.shape).astype(np.float32)
    assert fd_lenet(model, real, other_real) < 0.2 * fd_lenet(model, real, noise)
