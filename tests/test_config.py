import pytest

from codec import config
from codec.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_file_and_overrides(tmp_path):
    cfg = config.load(write(tmp_path, "[train]\nlmbda = 0.01\n[model]\nname='factorized'\n"),
                      ["train.lr=5e-5", "train.lr_milestones=[10,20]", "train.channels_last=false"])
    assert cfg.train.lmbda == 0.01 and cfg.train.lr == 5e-5 and cfg.model.name == "factorized"
    assert cfg.train.lr_milestones == [10, 20] and cfg.train.channels_last is False


@pytest.mark.parametrize("text, overrides, key", [
    ("[train]\nlmdba = 0.01\n", [], "train.lmdba"),
    ("[trian]\nlmbda = 0.01\n", [], "trian"),
    ("[train]\nbatch = 'eight'\n", [], "train.batch"),
    ("", ["train.steps=many"], "train.steps"),
    ("", ["model.colour=3"], "model.colour"),
])
def test_bad_keys_and_types_name_the_key(tmp_path, text, overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.load(write(tmp_path, text), overrides)


def test_missing_data_folder_is_named(tmp_path):
    cfg = config.load(write(tmp_path, f"[data]\ntrain = '{tmp_path / 'nope'}'\n"))
    with pytest.raises(ConfigError, match="data.train"):
        config.validate_for_training(cfg)


def test_shipped_configs_parse():
    from pathlib import Path
    for p in sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.toml")):
        config.load(p)


def test_zoo_configs_follow_the_lambda_table():
    from pathlib import Path
    zoo = sorted((Path(__file__).resolve().parents[1] / "configs" / "zoo").glob("*.toml"))
    assert len(zoo) == 24
    for p in zoo:
        cfg = config.load(p)
        q = cfg.model.quality
        assert cfg.train.lmbda == config.MSE_LAMBDAS[q - 1], p
        assert (cfg.model.N, cfg.model.M) == ((128, 192) if q <= 5 else (192, 320)), p
