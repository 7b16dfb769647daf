"""Tests for gnnrec_course.checkpoint: save, load, damage, partial writes, compatibility."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from gnnrec_course import checkpoint as ckpt
from gnnrec_course.config import DataFacts, build_model, get_model_entry
from gnnrec_course.data import synthetic_dataset
from gnnrec_course.graph import build_graph, build_id_maps, rating_edges


@pytest.fixture
def trained(tmp_path: Path):
    ds = synthetic_dataset(n_users=30, n_movies=20, seed=1)
    maps = build_id_maps(ds.ratings, name=ds.name)
    graph = build_graph(ds.ratings, maps)
    facts = DataFacts(maps.num_nodes, maps.num_users, 1.0, 5.0, 3.5)
    model = build_model("default", **vars(facts), embed_dim=8)
    e = rating_edges(ds.ratings, maps)
    params = model.init(jax.random.PRNGKey(0), graph, e.users[:4], e.movies[:4])["params"]
    config = {**vars(get_model_entry("default").model), "embed_dim": 8}
    folder = ckpt.save_checkpoint(
        tmp_path / "model", model_name="default", model_config=config, facts=facts,
        params=params, maps=maps, dataset=ds.name, split="random", seed=0,
        num_train_ratings=len(ds.ratings), metrics={"test_rmse": 1.0},
    )  # fmt: skip
    return folder, model, params, graph, e


def test_round_trip_gives_the_same_predictions(trained):
    folder, model, params, graph, e = trained
    loaded = ckpt.load_checkpoint(folder)
    assert loaded.model_name == "default" and loaded.objective == "rating"
    assert loaded.model_config["embed_dim"] == 8 and loaded.metrics == {"test_rmse": 1.0}
    again = loaded.build_model()
    a = model.apply({"params": params}, graph, e.users, e.movies)
    b = again.apply({"params": loaded.params}, graph, e.users, e.movies)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert loaded.maps.num_users == 30 and loaded.package_version == ckpt.package_version()


def test_damaged_params_file_is_a_one_line_error(trained):
    folder = trained[0]
    data = bytearray((folder / ckpt.PARAMS_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / ckpt.PARAMS_FILE).write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="damaged") as info:
        ckpt.load_checkpoint(folder)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)


def test_truncated_and_missing_files_are_errors(trained):
    folder = trained[0]
    payload = (folder / ckpt.PARAMS_FILE).read_bytes()
    (folder / ckpt.PARAMS_FILE).write_bytes(payload[:100])
    with pytest.raises(ckpt.CheckpointError, match="damaged"):
        ckpt.load_checkpoint(folder)
    (folder / ckpt.META_FILE).unlink()
    with pytest.raises(ckpt.CheckpointError, match="partial"):
        ckpt.load_checkpoint(folder)
    with pytest.raises(ckpt.CheckpointError, match="no checkpoint folder"):
        ckpt.load_checkpoint(folder.parent / "nothing-here")


def test_incompatible_config_is_an_error(trained):
    folder = trained[0]
    meta = json.loads((folder / ckpt.META_FILE).read_text())
    meta["model_config"]["embed_dim"] = 16  # the saved parameters are 8 wide
    (folder / ckpt.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ckpt.CheckpointError, match="does not fit"):
        ckpt.load_checkpoint(folder)
    meta["model"] = "nope"
    (folder / ckpt.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ckpt.CheckpointError, match="cannot build"):
        ckpt.load_checkpoint(folder)


def test_a_crash_while_saving_leaves_no_complete_looking_folder(trained, monkeypatch):
    folder, model, params, graph, e = trained
    loaded = ckpt.load_checkpoint(folder)
    target = folder.parent / "second"

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", crash)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(
            target, model_name="default", model_config=loaded.model_config,
            facts=loaded.facts, params=params, maps=loaded.maps, dataset="x", split="random",
            seed=0, num_train_ratings=1,
        )  # fmt: skip
    assert not target.exists()
    assert [p.name for p in folder.parent.iterdir()] == ["model"]  # no temporary left behind


def test_cached_model_dir_is_keyed_by_settings_and_version(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a = ckpt.cached_model_dir("ml-100k", "ranking", 0, "lightgcn")
    b = ckpt.cached_model_dir("ml-100k", "ranking", 1, "lightgcn")
    assert a != b and a.parent == tmp_path / "gnnrec-course" / "models"
    assert ckpt.package_version() in a.name
