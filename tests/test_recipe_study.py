"""scripts/recipe_study.py: a recipe's config takes the model and data of a
base config (the campaign's variable-rate job) and only its schedule from
the recipe; fractions of the run become steps."""
from __future__ import annotations

from pathlib import Path

from codec.training.config import VariableRateConfig

from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def _script():
    return load_script("recipe_study")


def test_base_config_keeps_model_and_takes_recipe_schedule(tmp_path):
    rs = _script()
    cfg = rs.make_config("train-folder", tmp_path / "run", "2x256-1e-4-cosine", 1000, "init.pt", 4,
                         str(ROOT / "configs" / "campaign" / "mean-scale-vr.toml"))
    assert isinstance(cfg.model, VariableRateConfig) and cfg.model.name == "mean-scale-vr"
    assert (cfg.model.q_min, cfg.model.q_max) == (1, 5)
    assert (cfg.data.crop, cfg.train.batch) == (256, 2)
    assert (cfg.train.lr, cfg.train.lr_schedule, cfg.train.decay_from, cfg.train.lr_min) == (1e-4, "cosine", 600, 1e-5)
    assert (cfg.train.steps, cfg.train.init, cfg.train.start_step, cfg.train.export) == (1000, "init.pt", 0, "")
    assert cfg.data.train == "train-folder" and cfg.train.out == str(tmp_path / "run")


def test_without_base_the_fixed_rate_q3_model():
    rs = _script()
    cfg = rs.make_config("t", Path("o"), "mixed", 500, "", 0)
    assert cfg.model.name == "mean-scale" and cfg.model.quality == 3 and cfg.train.lmbda == 0.0067
    assert (cfg.data.crop, cfg.train.batch, cfg.train.lr_milestones) == (128, 8, [360, 460])
