"""scripts/write_model_card.py: the Markdown card beside a checkpoint, with
measured figures; a variable-rate checkpoint gets figures at every anchor."""
import subprocess
import sys
from pathlib import Path

from PIL import Image

from codec.training.train import untrained_checkpoint
from conftest import natural_like

ROOT = Path(__file__).resolve().parents[1]


def test_a_variable_rate_card_has_figures_at_each_anchor(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(2):
        Image.fromarray(natural_like(32, 48, seed=i)).save(imgs / f"{i}.png")
    ck = untrained_checkpoint("factorized-vr", tmp_path / "factorized-vr.pt", N=16, M=24)
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "write_model_card.py"), str(ck), str(imgs),
                        "--data", "two test images"], capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    md = ck.with_suffix(".md").read_text()
    assert "variable rate: qualities 1..5" in md
    assert "| kodak_bpp |" in md and "| kodak_reference_quality | 3 |" in md   # the default quality's figures
    rows = [line.split(" | ") for line in md.splitlines() if line[:4] in {f"| {q} " for q in range(1, 6)}]
    assert [r[1] for r in rows] == ["0.0018", "0.0035", "0.0067", "0.013", "0.025"]   # one row per anchor
    bpp = [float(r[2]) for r in rows]
    assert bpp == sorted(bpp) and bpp[0] < bpp[-1]
