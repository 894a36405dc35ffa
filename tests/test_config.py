import pytest

from codec.training import config
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


def test_shipped_configs_parse_and_validate(tmp_path, monkeypatch):
    """Every training config in configs/ loads and passes the trainer's checks
    (run from the repository root, as documented; a data folder that is not on
    this machine, e.g. ../shared in a git worktree, is replaced by an empty one,
    and a warm start from an earlier stage's run folder is not looked for)."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    found = 0
    for p in sorted((root / "configs").rglob("*.toml")):
        if p.name == "campaign.toml":  # the campaign's plan, not a training config (tests/test_campaign.py)
            continue
        cfg = config.load(p)
        if not Path(cfg.data.train).is_dir():
            cfg.data.train = str(tmp_path)
        if cfg.train.init.startswith("runs/"):   # an earlier stage's run (zoo), made by that stage
            cfg.train.init = ""
        config.validate_for_training(cfg)
        found += 1
    assert found >= 28


def test_campaign_variable_rate_configs():
    """One config per family, each over q1..q5 at 128/192 into runs/campaign/<name>;
    mean-scale-vr warm-starts from the shipped q3 model with the q3 job's
    optimizer recipe, in shorter cycles of 256^2 crops (the recipe study's
    winner at equal CPU): the cosine decay over the same last 40 %."""
    from pathlib import Path
    from codec.models.variable_rate import VariableRateConfig
    root = Path(__file__).resolve().parents[1] / "configs" / "campaign"
    q3 = config.load(root / "mean-scale-q3.toml")
    for name in ("mean-scale-vr", "factorized-vr", "hyperprior-vr"):
        cfg = config.load(root / f"{name}.toml")
        m, t = cfg.model, cfg.train
        assert isinstance(m, VariableRateConfig) and m.name == name, name
        assert (m.N, m.M, m.q_min, m.q_max, m.quality) == (128, 192, 1, 5, 3), name
        assert t.out == f"runs/campaign/{name}" and not t.export and t.quantizer == "mixed", name
        assert cfg.data.holdout_files == "configs/holdout.txt" and t.batch == 8, name
        assert cfg.data.crop == (256 if name == "mean-scale-vr" else 128), name
    ms = config.load(root / "mean-scale-vr.toml")
    assert ms.train.init == "checkpoints/mean-scale-q3.pt"
    for key in ("batch", "lr", "lr_schedule", "lr_min", "quantizer", "clip"):
        assert getattr(ms.train, key) == getattr(q3.train, key), key
    assert ms.train.decay_from / ms.train.steps == q3.train.decay_from / q3.train.steps == 0.6
    for name in ("factorized-vr", "hyperprior-vr"):
        t = config.load(root / f"{name}.toml").train
        assert not t.init and t.lr == 5e-4 and t.warmup > 0   # from scratch


def test_zoo_configs_follow_the_lambda_table():
    from pathlib import Path
    zoo = sorted((Path(__file__).resolve().parents[1] / "configs" / "zoo").glob("*.toml"))
    assert len(zoo) == 24
    for p in zoo:
        cfg = config.load(p)
        q = cfg.model.quality
        assert cfg.train.lmbda == config.MSE_LAMBDAS[q - 1], p
        assert (cfg.model.N, cfg.model.M) == ((128, 192) if q <= 5 else (192, 320)), p


def test_zoo_fine_tunes_within_a_channel_group_in_order():
    """Every init names a run of the same model and N/M, and train_zoo runs it first."""
    from pathlib import Path
    from conftest import load_script
    root = Path(__file__).resolve().parents[1]
    tz = load_script("train_zoo")
    cfgs = {p.stem: config.load(p) for p in sorted((root / "configs" / "zoo").glob("*.toml"))}
    order = tz.ordered(cfgs)
    assert sorted(order) == sorted(cfgs)
    by_out = {c.train.out + "/last.pt": k for k, c in cfgs.items()}
    sources = 0
    for name, c in cfgs.items():
        if c.train.init:
            src = by_out[c.train.init]
            s = cfgs[src]
            assert (s.model.name, s.model.N, s.model.M) == (c.model.name, c.model.N, c.model.M)
            assert s.train.lmbda > c.train.lmbda and not s.train.init
            assert order.index(src) < order.index(name)
            sources += 1
    assert sources == 18  # 6 per family fine-tuned; q5 and q8 from scratch
