"""The self-checks of notebook 02 reject wrong answers, skip stubs and pass the reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnnrec_course.checks import nb02
from gnnrec_course.reference import recsys_data as ref

# --- deliberately wrong implementations -------------------------------------------------


def nodes_raw(user_ids, movie_ids, all_users, all_movies):
    """Returns the raw ids unchanged."""
    return np.asarray(user_ids), np.asarray(movie_ids)


def nodes_minus_one(user_ids, movie_ids, all_users, all_movies):
    """Assumes ids 1, 2, 3, ... without gaps."""
    return np.asarray(user_ids) - 1, np.asarray(movie_ids) - 1


def nodes_no_offset(user_ids, movie_ids, all_users, all_movies):
    """Numbers movies from 0, on top of the users."""
    return np.searchsorted(all_users, user_ids), np.searchsorted(all_movies, movie_ids)


def nodes_float(user_ids, movie_ids, all_users, all_movies):
    u, m = ref.node_ids(user_ids, movie_ids, all_users, all_movies)
    return u.astype(np.float32), m.astype(np.float32)


def nodes_swapped(user_ids, movie_ids, all_users, all_movies):
    return ref.node_ids(user_ids, movie_ids, all_users, all_movies)[::-1]


def nodes_unique(user_ids, movie_ids, all_users, all_movies):
    """One node per distinct id instead of one per rating."""
    return np.arange(len(all_users)), len(all_users) + np.arange(len(all_movies))


def nodes_no_return(user_ids, movie_ids, all_users, all_movies):
    ref.node_ids(user_ids, movie_ids, all_users, all_movies)


def nodes_off_by_one(user_ids, movie_ids, all_users, all_movies):
    u, m = ref.node_ids(user_ids, movie_ids, all_users, all_movies)
    return u, m + 1


def edges_one_direction(users, movies):
    return np.asarray(users), np.asarray(movies)


def edges_movies_first(users, movies):
    return np.concatenate([movies, users]), np.concatenate([users, movies])


def edges_self_loops(users, movies):
    both = np.concatenate([users, movies])
    return both, both


def edges_float(users, movies):
    s, r = ref.bipartite_edges(users, movies)
    return s.astype(np.float32), r.astype(np.float32)


def edges_wrong_pairs(users, movies):
    return np.concatenate([users, movies]), np.concatenate([movies[::-1], users])


def bias_global_mean(train, test, reg):
    return np.full(len(test), train["rating"].mean(), dtype=np.float32)


def bias_leaky(train, test, reg):
    """Global mean over train and test ratings."""
    mu = pd.concat([train, test])["rating"].mean()
    dev = train["rating"] - mu
    g = dev.groupby(train["movie_id"])
    b_m = g.sum() / (g.count() + reg)
    g = (dev - train["movie_id"].map(b_m)).groupby(train["user_id"])
    b_u = g.sum() / (g.count() + reg)
    return mu + test["user_id"].map(b_u).fillna(0) + test["movie_id"].map(b_m).fillna(0)


def bias_user_from_raw(train, test, reg):
    """User bias from r - mu rather than r - mu - b_m."""
    mu = train["rating"].mean()
    dev = train["rating"] - mu
    g_m, g_u = dev.groupby(train["movie_id"]), dev.groupby(train["user_id"])
    b_m, b_u = g_m.sum() / (g_m.count() + reg), g_u.sum() / (g_u.count() + reg)
    return mu + test["user_id"].map(b_u).fillna(0) + test["movie_id"].map(b_m).fillna(0)


def bias_no_reg(train, test, reg):
    return ref.bias_baseline_predict(train, test, 0.0)


def bias_nan_unknown(train, test, reg):
    """Unknown users/movies get NaN."""
    mu = train["rating"].mean()
    dev = train["rating"] - mu
    g = dev.groupby(train["movie_id"])
    b_m = g.sum() / (g.count() + reg)
    g = (dev - train["movie_id"].map(b_m)).groupby(train["user_id"])
    b_u = g.sum() / (g.count() + reg)
    return (mu + test["user_id"].map(b_u) + test["movie_id"].map(b_m)).to_numpy()


def bias_train_rows(train, test, reg):
    """Predicts the training rows instead of the test rows."""
    return ref.bias_baseline_predict(train, train, reg)


def bias_other(train, test, reg):
    return ref.bias_baseline_predict(train, test, reg) + 0.5


CHECKS = [
    ("2.1", nb02.check_node_ids, ref.node_ids),
    ("2.2", nb02.check_bipartite_edges, ref.bipartite_edges),
    ("2.3", nb02.check_bias_baseline_predict, ref.bias_baseline_predict),
]

WRONG = [
    ("2.1", nb02.check_node_ids, nodes_raw, "raw ids"),
    ("2.1", nb02.check_node_ids, nodes_minus_one, "subtracted 1"),
    ("2.1", nb02.check_node_ids, nodes_no_offset, "add U = len(all_users) = 3"),
    ("2.1", nb02.check_node_ids, nodes_float, "integers"),
    ("2.1", nb02.check_node_ids, nodes_swapped, "swapped"),
    ("2.1", nb02.check_node_ids, nodes_unique, "one node id per rating"),
    ("2.1", nb02.check_node_ids, nodes_no_return, "return"),
    ("2.1", nb02.check_node_ids, nodes_off_by_one, "np.searchsorted(all_users"),
    ("2.2", nb02.check_bipartite_edges, edges_one_direction, "BOTH"),
    ("2.2", nb02.check_bipartite_edges, edges_movies_first, "another order"),
    ("2.2", nb02.check_bipartite_edges, edges_self_loops, "itself"),
    ("2.2", nb02.check_bipartite_edges, edges_float, "integers"),
    ("2.2", nb02.check_bipartite_edges, edges_wrong_pairs, "np.concatenate"),
    ("2.3", nb02.check_bias_baseline_predict, bias_global_mean, "global mean"),
    ("2.3", nb02.check_bias_baseline_predict, bias_leaky, "train only"),
    ("2.3", nb02.check_bias_baseline_predict, bias_user_from_raw, "r - mu - b_m"),
    ("2.3", nb02.check_bias_baseline_predict, bias_no_reg, "reg has no effect"),
    ("2.3", nb02.check_bias_baseline_predict, bias_nan_unknown, "NaN"),
    ("2.3", nb02.check_bias_baseline_predict, bias_train_rows, "one per row of test"),
    ("2.3", nb02.check_bias_baseline_predict, bias_other, "Steps"),
]


def test_reference_values():
    ratings = pd.DataFrame({"user_id": [1, 2], "movie_id": [5, 5], "rating": [4.0, 2.0]})
    users, movies = ref.node_ids([9, 4, 9], [30, 10, 10], [4, 9], [10, 20, 30])
    assert users.tolist() == [1, 0, 1]
    assert movies.tolist() == [4, 2, 2]
    assert users.dtype == movies.dtype == np.int32
    senders, receivers = ref.bipartite_edges([0, 1], [2, 2])
    assert senders.tolist() == [0, 1, 2, 2]
    assert receivers.tolist() == [2, 2, 0, 1]
    assert senders.dtype == np.int32
    # mu = 3; movie 5: b_m = 0; users: +1 and -1 with reg 0, +0.5 / -0.5 with reg 1.
    test = pd.DataFrame({"user_id": [1, 2, 7], "movie_id": [5, 5, 5]})
    np.testing.assert_allclose(ref.bias_baseline_predict(ratings, test, 0.0), [4.0, 2.0, 3.0])
    np.testing.assert_allclose(ref.bias_baseline_predict(ratings, test, 1.0), [3.5, 2.5, 3.0])


def test_bipartite_edges_matches_build_graph():
    from gnnrec_course.graph import build_graph, build_id_maps, rating_edges

    ratings = pd.DataFrame(
        {"user_id": [3, 1, 3, 2], "movie_id": [7, 7, 9, 8], "rating": [1.0, 2.0, 3.0, 4.0]}
    )
    maps = build_id_maps(ratings)
    edges = rating_edges(ratings, maps)
    graph = build_graph(ratings, maps)
    senders, receivers = ref.bipartite_edges(edges.users, edges.movies)
    np.testing.assert_array_equal(senders, graph.senders)
    np.testing.assert_array_equal(receivers, graph.receivers)


def test_node_ids_matches_the_package_id_maps():
    from gnnrec_course.data import synthetic_ratings
    from gnnrec_course.graph import build_id_maps

    ratings = synthetic_ratings(seed=3)
    ratings = ratings[ratings["user_id"] % 3 != 0]  # raw ids with gaps
    maps = build_id_maps(ratings)
    users, movies = ref.node_ids(
        ratings["user_id"], ratings["movie_id"], maps.user_ids, maps.movie_ids
    )
    np.testing.assert_array_equal(users, maps.user_nodes(ratings["user_id"]))
    np.testing.assert_array_equal(movies, maps.movie_nodes(ratings["movie_id"]))


def test_bias_reference_is_one_round_of_the_package_baseline():
    from gnnrec_course.baselines import BiasBaseline
    from gnnrec_course.data import synthetic_ratings
    from gnnrec_course.graph import split_ratings

    split = split_ratings(synthetic_ratings(seed=1), seed=0)
    for reg in (0.0, 5.0):
        mine = ref.bias_baseline_predict(split.train, split.test, reg)
        package = BiasBaseline(reg=reg, iterations=1).fit(split.train).predict(split.test)
        lo, hi = split.train["rating"].min(), split.train["rating"].max()
        np.testing.assert_allclose(np.clip(mine, lo, hi), package, atol=1e-5)
