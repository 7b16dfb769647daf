"""Tests for gnnrec_course.models: MLP, the GCN layer, TutorialGCN and GCNRecommender."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from gnnrec_course import models
from gnnrec_course.data import synthetic_ratings
from gnnrec_course.graph import build_graph, build_id_maps, rating_edges, split_ratings

# A tiny bipartite graph: users 0, 1, 2 and movies 3, 4, 5 (node ids), six ratings.
USERS = np.array([0, 0, 1, 1, 2, 2], dtype=np.int32)
MOVIES = np.array([3, 4, 3, 5, 4, 5], dtype=np.int32)
RATINGS = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 5.0], dtype=np.float32)
N = 6


def tiny_graph() -> jraph.GraphsTuple:
    """Both directions, no self-loops, like ``graph.build_graph``."""
    return jraph.GraphsTuple(
        nodes=np.arange(N, dtype=np.int32)[:, None],
        edges=np.concatenate([RATINGS, RATINGS])[:, None],
        senders=np.concatenate([USERS, MOVIES]),
        receivers=np.concatenate([MOVIES, USERS]),
        n_node=np.array([N], dtype=np.int32),
        n_edge=np.array([2 * len(USERS)], dtype=np.int32),
        globals=None,
    )


def init(model, graph=None, users=USERS, movies=MOVIES, seed=0):
    graph = tiny_graph() if graph is None else graph
    return model.init(jax.random.PRNGKey(seed), graph, users, movies)


# ----- MLP -----------------------------------------------------------------------------------


def test_mlp_has_no_activation_after_last_layer():
    mlp = models.MLP((8, 3))
    x = jax.random.normal(jax.random.PRNGKey(1), (50, 4))
    params = mlp.init(jax.random.PRNGKey(0), x)
    out = mlp.apply(params, x)
    p = params["params"]
    hidden = jax.nn.relu(x @ p["dense_0"]["kernel"] + p["dense_0"]["bias"])
    expected = hidden @ p["dense_1"]["kernel"] + p["dense_1"]["bias"]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert out.shape == (50, 3)
    assert (out < 0).any(), "a linear last layer must be able to output negative values"


def test_mlp_activate_final_reproduces_the_tutorial_flaw():
    mlp = models.MLP((8, 3), activate_final=True)
    x = jax.random.normal(jax.random.PRNGKey(1), (50, 4))
    out = mlp.apply(mlp.init(jax.random.PRNGKey(0), x), x)
    assert (out >= 0).all()


def test_mlp_single_layer_is_linear():
    mlp = models.MLP((2,))
    x = jnp.array([[1.0, -2.0], [-3.0, 0.5]])
    params = mlp.init(jax.random.PRNGKey(0), x)
    p = params["params"]["dense_0"]
    np.testing.assert_allclose(mlp.apply(params, x), x @ p["kernel"] + p["bias"], rtol=1e-6)


# ----- GCN propagation -----------------------------------------------------------------------


def dense_gcn(graph: jraph.GraphsTuple, x: np.ndarray) -> np.ndarray:
    """D^-1/2 (A + I) D^-1/2 X with numpy."""
    a = np.zeros((N, N), dtype=np.float64)
    a[np.asarray(graph.receivers), np.asarray(graph.senders)] = 1.0
    a += np.eye(N)
    d = np.diag(1.0 / np.sqrt(a.sum(axis=1)))
    return d @ a @ d @ x


def test_gcn_propagate_matches_dense_formula():
    graph = tiny_graph()
    x = np.random.default_rng(0).normal(size=(N, 4)).astype(np.float32)
    out = models.gcn_propagate(graph, jnp.asarray(x))
    np.testing.assert_allclose(out, dense_gcn(graph, x), rtol=1e-5, atol=1e-6)


def test_gcn_propagate_is_jittable_with_graph_argument():
    graph = jax.tree_util.tree_map(jnp.asarray, tiny_graph())
    x = jnp.ones((N, 3))
    out = jax.jit(models.gcn_propagate)(graph, x)
    np.testing.assert_allclose(out, dense_gcn(graph, np.ones((N, 3))), rtol=1e-5)


def test_rowwise_dot():
    a = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    b = jnp.array([[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_allclose(models.rowwise_dot(a, b), [17.0, 53.0])


# ----- TutorialGCN ---------------------------------------------------------------------------


@pytest.mark.parametrize(("lo", "hi"), [(1.0, 5.0), (0.5, 5.0)])
def test_tutorial_gcn_output_inside_rating_range(lo, hi):
    model = models.tutorial_model(N, lo, hi, embed_dim=8, hidden=(8,))
    params = init(model)
    # Large parameters push the sigmoid to saturation: still inside [lo, hi].
    big = jax.tree_util.tree_map(lambda p: p * 100.0, params)
    for p in (params, big):
        out = np.asarray(model.apply(p, tiny_graph(), USERS, MOVIES))
        assert out.shape == (len(USERS),)
        assert out.dtype == np.float32
        assert np.all(out >= lo) and np.all(out <= hi)


def test_tutorial_gcn_encode_shape_and_layernorm():
    model = models.tutorial_model(N, embed_dim=8, hidden=(16, 4))
    params = init(model)
    z = model.apply(params, tiny_graph(), method=model.encode)
    assert z.shape == (N, 4)
    np.testing.assert_allclose(np.asarray(z).mean(axis=1), 0.0, atol=1e-5)


def test_tutorial_gcn_embedding_is_one_hot_times_weights():
    """nn.Embed on the node ids equals one-hot features times the weight matrix."""
    model = models.tutorial_model(N, embed_dim=4, hidden=(4,))
    params = init(model)
    table = params["params"]["embed"]["embedding"]
    one_hot = np.eye(N, dtype=np.float32)
    looked_up = model.apply(params, jnp.arange(N), method=lambda m, ids: m.embed(ids))
    np.testing.assert_allclose(one_hot @ table, looked_up, rtol=1e-6)


def test_tutorial_decode_matches_call():
    model = models.tutorial_model(N, embed_dim=8, hidden=(8,))
    params = init(model)
    z = model.apply(params, tiny_graph(), method=model.encode)
    via_decode = model.apply(params, z, USERS, MOVIES, method=model.decode)
    np.testing.assert_allclose(via_decode, model.apply(params, tiny_graph(), USERS, MOVIES))


# ----- GCNRecommender ------------------------------------------------------------------------


def test_default_model_shapes_and_clipping():
    model = models.default_model(N, 1.0, 5.0, rating_mean=3.3, embed_dim=8, num_layers=2)
    params = init(model)
    assert float(params["params"]["mu"]) == pytest.approx(3.3)
    out = model.apply(params, tiny_graph(), USERS, MOVIES)
    assert out.shape == (len(USERS),) and out.dtype == jnp.float32
    z = model.apply(params, tiny_graph(), method=model.encode)
    assert z.shape == (N, 8)
    # Push the global bias far out of range: inference clips, training does not.
    shifted = jax.tree_util.tree_map(lambda p: p, params)
    shifted["params"]["mu"] = jnp.asarray(9.0)
    assert np.all(np.asarray(model.apply(shifted, tiny_graph(), USERS, MOVIES)) == 5.0)
    raw = model.apply(shifted, tiny_graph(), USERS, MOVIES, train=True, mutable=["losses"])[0]
    assert np.all(np.asarray(raw) > 5.0)


def test_default_model_decode_matches_call():
    model = models.default_model(N, 1.0, 5.0, embed_dim=8)
    params = init(model)
    z = model.apply(params, tiny_graph(), method=model.encode)
    via_decode = model.apply(params, z, USERS, MOVIES, method=model.decode)
    np.testing.assert_allclose(via_decode, model.apply(params, tiny_graph(), USERS, MOVIES))


def test_default_model_encoder_is_layer_mean_of_gcn_steps():
    model = models.default_model(N, embed_dim=4, num_layers=2)
    params = init(model)
    e0 = np.asarray(params["params"]["embed"]["embedding"])
    e1 = dense_gcn(tiny_graph(), e0)
    e2 = dense_gcn(tiny_graph(), e1)
    z = model.apply(params, tiny_graph(), method=model.encode)
    np.testing.assert_allclose(z, (e0 + e1 + e2) / 3, rtol=1e-5, atol=1e-6)


def test_default_model_sows_regularisers_only_when_training():
    model = models.default_model(N, embed_dim=4, l2=0.1, bias_l2=0.01)
    params = init(model)
    _, aux = model.apply(params, tiny_graph(), USERS, MOVIES, train=True, mutable=["losses"])
    assert set(aux["losses"]) == {"embedding_l2", "bias_l2"}
    _, aux = model.apply(params, tiny_graph(), USERS, MOVIES, mutable=["losses"])
    assert not aux.get("losses")


def test_dropout_needs_rng_only_in_training():
    model = models.default_model(N, embed_dim=4, dropout=0.5)
    params = init(model)
    a = model.apply(params, tiny_graph(), USERS, MOVIES)
    b = model.apply(params, tiny_graph(), USERS, MOVIES)
    np.testing.assert_array_equal(a, b)
    out, _ = model.apply(
        params, tiny_graph(), USERS, MOVIES, train=True, mutable=["losses"],
        rngs={"dropout": jax.random.PRNGKey(3)},
    )  # fmt: skip
    assert out.shape == (len(USERS),)


def test_models_accept_1d_node_ids():
    graph = tiny_graph()._replace(nodes=np.arange(N, dtype=np.int32))
    for model in (models.default_model(N, embed_dim=4), models.tutorial_model(N, embed_dim=4)):
        params = init(model)
        np.testing.assert_allclose(
            model.apply(params, graph, USERS, MOVIES),
            model.apply(params, tiny_graph(), USERS, MOVIES),
        )


# ----- GCNRecommender with the rating-weighted branch ----------------------------------------

N_USERS = 3


def hybrid(**kwargs):
    kwargs = {"embed_dim": 4, "rating_hidden": 5, **kwargs}
    return models.default_model(N, 1.0, 5.0, num_users=N_USERS, **kwargs)


def test_movie_codes_are_rating_weighted_sums():
    model = hybrid()
    params = init(model)
    p = params["params"]
    codes = model.apply(params, tiny_graph(), method=model.movie_codes)
    # movie node 3 was rated 5 by user 0 and 4 by user 1
    expected = jax.nn.sigmoid(5 * p["user_in"][0] + 4 * p["user_in"][1] + p["hidden_bias"])
    np.testing.assert_allclose(codes[0], expected, rtol=1e-5)


def test_hybrid_encode_decode_agree_with_call():
    model = hybrid()
    params = init(model)
    z = model.apply(params, tiny_graph(), method=model.encode)
    assert z.shape == (N, 4 + 5)
    # every (user, movie) pair, rated or not
    users = np.repeat(np.arange(N_USERS), N - N_USERS).astype(np.int32)
    movies = np.tile(np.arange(N_USERS, N), N_USERS).astype(np.int32)
    full = model.apply(params, tiny_graph(), users, movies)
    via_decode = model.apply(params, z, users, movies, method=model.decode)
    np.testing.assert_allclose(via_decode, full, rtol=1e-5, atol=1e-5)
    assert np.all((np.asarray(full) >= 1.0) & (np.asarray(full) <= 5.0))


ALL_PENALTIES = {"embedding_l2", "bias_l2", "rating_l2", "branch_agreement"}


@pytest.mark.parametrize(
    ("build", "sown"),
    [
        (lambda: hybrid(dropout=0.3), ALL_PENALTIES),
        (lambda: models.default_model(N, embed_dim=4), {"embedding_l2", "bias_l2"}),
        (lambda: models.tutorial_model(N, embed_dim=4, hidden=(4,)), set()),
    ],
    ids=["default", "lightgcn", "tutorial"],
)
@pytest.mark.parametrize("train", [False, True])
def test_call_is_decode_of_encode(build, sown, train):
    """One prediction path: the forward pass is decode(encode(graph)), penalties included."""
    model = build()
    params = init(model)

    def two_steps(m, graph, users, movies):
        return m.decode(m.encode(graph, train=train), users, movies, train=train)

    kwargs = {"mutable": ["losses"], "rngs": {"dropout": jax.random.PRNGKey(5)}}
    direct, aux = model.apply(params, tiny_graph(), USERS, MOVIES, train=train, **kwargs)
    steps, aux2 = model.apply(params, tiny_graph(), USERS, MOVIES, method=two_steps, **kwargs)
    np.testing.assert_array_equal(np.asarray(direct), np.asarray(steps))
    losses, losses2 = aux.get("losses", {}), aux2.get("losses", {})
    assert set(losses) == set(losses2) == (sown if train else set())
    for name in losses:
        np.testing.assert_array_equal(np.asarray(losses[name]), np.asarray(losses2[name]))


def test_hybrid_loss_terms_make_each_branch_a_full_model():
    """MSE(blend) + sown agreement term == (1-w) MSE(A) + w MSE(B) (no penalties here)."""
    w = 0.6
    model = hybrid(rating_weight=w, l2=0.0, bias_l2=0.0, rating_l2=0.0)
    params = init(model)
    pred, aux = model.apply(params, tiny_graph(), USERS, MOVIES, train=True, mutable=["losses"])
    assert set(aux["losses"]) == {"branch_agreement"}
    agreement = float(aux["losses"]["branch_agreement"][0])
    only_a = model.clone(num_users=None)
    pred_a = only_a.apply(params, tiny_graph(), USERS, MOVIES, train=True, mutable=["losses"])[0]
    pred_b = (pred - (1 - w) * pred_a) / w
    mse = lambda p: float(jnp.mean((p - RATINGS) ** 2))  # noqa: E731
    assert mse(pred) + agreement == pytest.approx((1 - w) * mse(pred_a) + w * mse(pred_b))


def test_hybrid_sows_all_penalties():
    model = hybrid()
    params = init(model)
    _, aux = model.apply(params, tiny_graph(), USERS, MOVIES, train=True, mutable=["losses"])
    assert set(aux["losses"]) == {"embedding_l2", "bias_l2", "rating_l2", "branch_agreement"}


# ----- no leakage: the encoder only sees training ratings ------------------------------------


@pytest.mark.parametrize("name", ["default", "lightgcn", "tutorial"])
def test_encoder_ignores_validation_and_test_ratings(name):
    ratings = synthetic_ratings(n_users=30, n_movies=20, seed=1)
    maps = build_id_maps(ratings)
    split = split_ratings(ratings, seed=0)
    graph = build_graph(split.train, maps)
    if name == "default":
        model = models.default_model(maps.num_nodes, 1.0, 5.0, num_users=maps.num_users)
    elif name == "lightgcn":
        model = models.default_model(maps.num_nodes, 1.0, 5.0)
    else:
        model = models.tutorial_model(maps.num_nodes, 1.0, 5.0)
    train = rating_edges(split.train, maps)
    params = init(model, graph, train.users[:2], train.movies[:2])
    z = model.apply(params, graph, method=model.encode)

    # Change every held-out rating; the graph and the encoder output must not move.
    tampered = split.train, split.val.assign(rating=1.0), split.test.assign(rating=5.0)
    graph2 = build_graph(tampered[0], maps)
    z2 = model.apply(params, graph2, method=model.encode)
    np.testing.assert_array_equal(np.asarray(z), np.asarray(z2))
    test = rating_edges(split.test, maps)
    np.testing.assert_array_equal(
        model.apply(params, graph, test.users, test.movies),
        model.apply(params, graph2, test.users, test.movies),
    )

    # ... whereas changing the training ratings does change the graph the model reads.
    graph3 = build_graph(split.train.assign(rating=1.0), maps)
    assert not np.array_equal(np.asarray(graph3.edges), np.asarray(graph.edges))
    held_out = set(zip(split.test.user_id, split.test.movie_id, strict=True))
    in_graph = set(
        zip(
            maps.user_ids_of(graph.senders[: len(split.train)]),
            maps.movie_ids_of(graph.receivers[: len(split.train)]),
            strict=True,
        )
    )
    assert not held_out & in_graph
