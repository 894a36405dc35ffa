"""scripts/measure_refine.py: one flushed row per image x N x quality, a rerun
resumes (skips done rows, drops a cut last line), the summary compares with N = 0."""
from __future__ import annotations

from PIL import Image

from conftest import load_script, make_checkpoint, natural_like

def _script():
    return load_script("measure_refine")


def test_rows_resume_and_summary(tmp_path, capsys):
    mr = _script()
    ck = make_checkpoint("mean-scale-vr", tmp_path / "vr.pt", N=16, M=24)
    (tmp_path / "img").mkdir()
    for i in range(2):
        Image.fromarray(natural_like(48, 64, seed=i)).save(tmp_path / "img" / f"k{i}.png")
    csv = tmp_path / "r.csv"
    args = ["--checkpoint", str(ck), "--images", str(tmp_path / "img"), "--subset", "all", "--steps", "0,2",
            "--qualities", "1,3", "--csv", str(csv), "--threads", "1"]
    mr.main(args)
    rows = mr.read_rows(csv)
    assert len(rows) == 2 * 2 * 2 and all(r.decode_ok == 1 for r in rows)
    assert all(r.bpp == 8 * r.bytes / (48 * 64) and r.enc_cpu_s > 0 for r in rows)
    assert {r.quality for r in rows} == {"1", "3"} and {r.refine for r in rows} == {0, 2}
    text = csv.read_text()
    csv.write_text(text[: text.rstrip("\n").rfind("\n") + 1] + "cut,half")   # lose the last row, cut a line
    capsys.readouterr()
    mr.main(args)
    assert "1 to measure, 7 already" in capsys.readouterr().err
    assert len(mr.read_rows(csv)) == 8
    mr.main(["--csv", str(csv), "--summary"])
    out = capsys.readouterr().out
    assert "| 3 | 2 | 2 |" in out and "BD-rate (PSNR) against N = 0" in out and "+0.00 %" in out
