"""Held-out scoring through real files (codec/training/heldout.py): a fixed-rate
checkpoint at its lambda, a variable-rate one at every anchor with the lambda
table's own lambdas; and the campaign's evaluation child for a variable-rate job."""
from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec import checkpoint as ckpt_io
from codec.errors import CodecError
from codec.models.variable_rate import lmbda_at
from codec.training import heldout
from codec.training.campaign import Job, Plan, read_restart
from codec.training.train import untrained_checkpoint
from conftest import load_script, natural_like


@pytest.fixture()
def images(tmp_path):
    d = tmp_path / "pool"
    d.mkdir()
    for i, name in enumerate(("a", "b", "c")):
        Image.fromarray(natural_like(48, 64, seed=20 + i)).save(d / f"{name}.png")
    (tmp_path / "holdout.txt").write_text("# held out\na\nc\n")
    return d, tmp_path / "holdout.txt"


def test_a_variable_rate_checkpoint_scores_the_mean_over_its_anchors(images, tmp_path):
    folder, names = images
    paths = heldout.heldout_paths(folder, names)
    assert sorted(p.stem for p in paths) == ["a", "c"]
    c = ckpt_io.load(untrained_checkpoint("hyperprior-vr", tmp_path / "vr.pt", N=16, M=24))
    s = heldout.score(c, paths)
    assert [a.quality for a in s.anchors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    for a in s.anchors:
        assert a.loss == pytest.approx(lmbda_at(a.quality) * a.mse255 + a.bpp, rel=1e-12)
    assert s.loss == pytest.approx(np.mean([a.loss for a in s.anchors]), rel=1e-12)
    assert s.bpp == pytest.approx(np.mean([a.bpp for a in s.anchors]), rel=1e-12)
    assert [a.bpp for a in s.anchors] == sorted(a.bpp for a in s.anchors)
    d = s.to_dict()
    assert len(d["anchors"]) == 5 and d["anchors"][2]["quality"] == 3.0 and "quality" not in d
    with pytest.raises(CodecError, match="pass no lmbda"):
        heldout.score(c, paths, 0.0067)


def test_a_fixed_rate_checkpoint_scores_at_its_lambda(images, tmp_path):
    folder, names = images
    paths = heldout.heldout_paths(folder, names)
    c = ckpt_io.load(untrained_checkpoint("mean-scale", tmp_path / "ms.pt", N=16, M=24))
    s = heldout.score(c, paths, 0.0067)
    assert s.anchors == () and s.quality is None and s.images == 2
    assert s.loss == pytest.approx(0.0067 * s.mse255 + s.bpp, rel=1e-12)
    assert "anchors" not in s.to_dict()


def _campaign_script():
    return load_script("campaign")


def _evaluate(images, tmp_path, monkeypatch, model: str, train: str = "", current_loss=None) -> Job:
    """The campaign's evaluation child on a 4-step run of an untrained ``model``
    (N=16, M=24) whose shipped checkpoint is tmp_path/ship/<model>.pt
    (``train``: more [train] lines of the job's config)."""
    folder, names = images
    out = tmp_path / "run"
    untrained_checkpoint(model, out / "last.pt", seed=2, N=16, M=24)
    cfg = tmp_path / "job.toml"
    cfg.write_text(f'[model]\nname = "{model}"\nN = 16\nM = 24\n[data]\ntrain = "{folder}"\n'
                   f'[train]\nsteps = 4\n{train}out = "{out}"\n')
    job = Job(model, str(cfg), str(tmp_path / "ship" / f"{model}.pt"))
    plan = Plan((job,), holdout=str(names), kodak="")
    monkeypatch.chdir(tmp_path)
    a = Namespace(current_loss=current_loss, cycle=0, step=4, cycle_steps=4, cpu_h=0.01)
    _campaign_script().evaluate_child(plan, job, a)
    return job


def test_the_campaign_evaluates_a_variable_rate_job_at_its_anchors(images, tmp_path, monkeypatch):
    job = _evaluate(images, tmp_path, monkeypatch, "mean-scale-vr")
    out = tmp_path / "run"
    r = json.loads((out / "eval.json").read_text())
    assert r["improved"] and len(r["candidate"]["anchors"]) == 5
    shipped = ckpt_io.load(job.checkpoint)
    assert shipped.train_state is None and shipped.card["heldout_loss"] == pytest.approx(r["candidate"]["loss"],
                                                                                         abs=1e-5)
    restart = read_restart(job.restart_file)
    assert restart.step == 4 and restart.heldout["loss"] == r["candidate"]["loss"]


def test_an_export_names_the_pre_campaign_runs_facts_as_such(images, tmp_path, monkeypatch):
    """The shipped checkpoint's own cpu_hours/recipe described the run before
    the campaign: the campaign's export keeps them as pre_campaign_*."""
    ship = tmp_path / "ship" / "mean-scale.pt"
    untrained_checkpoint("mean-scale", ship, seed=3, N=16, M=24)
    before = ckpt_io.load(ship)
    before.card = {"cpu_hours": 0.195, "recipe": "the study's", "steps": 100}
    ckpt_io.save(before, ship)
    _evaluate(images, tmp_path, monkeypatch, "mean-scale", train="lmbda = 0.0067\n", current_loss=1e9)
    card = ckpt_io.load(ship).card
    assert card["pre_campaign_cpu_hours"] == 0.195 and card["pre_campaign_recipe"] == "the study's"
    assert "cpu_hours" not in card and "recipe" not in card
    assert card["steps"] == 104 and card["campaign_cpu_hours"] == 0.01


def test_a_from_scratch_jobs_first_export_records_its_data_and_lambda(images, tmp_path, monkeypatch):
    """No earlier checkpoint, no earlier card: data and lambda come from the config."""
    job = _evaluate(images, tmp_path, monkeypatch, "factorized-vr")
    card = ckpt_io.load(job.checkpoint).card
    assert card["data"].startswith(str(images[0])) and "never Kodak" in card["data"]
    assert card["lambda"].startswith("lmbda_at(q), q in 1..5") and card["steps"] == 4


def test_adopt_ships_a_better_run_and_the_next_cycle_starts_from_it(images, tmp_path, monkeypatch):
    """`campaign.py adopt`: a run trained outside the campaign (a recipe study)
    replaces the shipped checkpoint when better on held-out; its steps and CPU
    join the job's, the unfinished cycle is moved aside, and a second adopt of
    the same weights (not strictly better) changes nothing."""
    folder, names = images
    study = tmp_path / "study"
    untrained_checkpoint("mean-scale-vr", study / "last.pt", seed=4, N=16, M=24)
    (study / "last.json").write_text('{"step": 7, "steps": 7}')
    out = tmp_path / "run"
    untrained_checkpoint("mean-scale-vr", out / "last.pt", seed=2, N=16, M=24)  # an unfinished cycle
    cfg = tmp_path / "job.toml"
    cfg.write_text(f'[model]\nname = "mean-scale-vr"\nN = 16\nM = 24\n[data]\ntrain = "{folder}"\n'
                   f'[train]\nsteps = 4\nout = "{out}"\n')
    job = Job("mean-scale-vr", str(cfg), str(tmp_path / "ship" / "mean-scale-vr.pt"))
    plan = Plan((job,), holdout=str(names), kodak="", state=str(tmp_path / "state.json"))
    monkeypatch.chdir(tmp_path)
    campaign = _campaign_script()
    a = Namespace(job=job.name, weights=str(study / "last.pt"), cpu_h=0.5, steps=None, from_steps=None,
                  note="test", plan="p")
    assert campaign.cmd_adopt(plan, a) == 0
    card = ckpt_io.load(job.checkpoint).card
    r = read_restart(job.restart_file)
    assert card["steps"] == 7 and card["campaign_cpu_hours"] == 0.5
    assert (r.cycle, r.step, r.cpu_h) == (1, 0, 0.5) and r.next_position(4) == (1, 0)
    assert r.heldout["loss"] == pytest.approx(card["heldout_loss"], abs=1e-5)
    assert "adopted" in r.history[-1]["note"]
    assert not out.exists() and len(list(tmp_path.glob("run.superseded-*"))) == 1
    js = campaign.read_state(plan.state).jobs[job.name]
    assert (js.cycle, js.step, js.improvements) == (1, 0, 1) and js.cpu_h == pytest.approx(0.5)
    # the campaign's next evaluation counts the adopted steps: 7 + one cycle of 4
    untrained_checkpoint("mean-scale-vr", out / "last.pt", seed=5, N=16, M=24)
    campaign.evaluate_child(plan, job, Namespace(current_loss=1e9, cycle=1, step=4, cycle_steps=4, cpu_h=0.6))
    assert ckpt_io.load(job.checkpoint).card["steps"] == 11
    before = Path(job.checkpoint).read_bytes()
    a.weights, a.steps = str(out / "last.pt"), 4
    assert campaign.cmd_adopt(plan, a) == 1   # the same weights again: not strictly better
    assert Path(job.checkpoint).read_bytes() == before
