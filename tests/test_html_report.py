"""report.html: self-contained, the right entries chosen, and -- in a real
browser (headless Chromium, skipped when it is not installed) -- every image
decodes, the slider, the codec choice and the synchronized zoom respond, and
a screenshot is taken."""
import re
import shutil
import subprocess

import numpy as np
import pytest

from codec.evaluation import html_report, visual
from codec.evaluation.report import Row
from conftest import natural_like

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)


def _row(curve: str, setting: str, bpp: float) -> Row:
    return Row(curve, setting, "a.png", 8, 8, 8, bpp, float("nan"), 30.0, 0.9, 10.0, 60.0, 0.1, 0.1, True)


def test_nearest_setting_is_nearest_in_bpp_on_that_image():
    rows = {r.key: r for r in (_row("jpeg", "10", 0.2), _row("jpeg", "20", 0.35), _row("jpeg", "30", 0.6))}
    assert visual.nearest_setting(rows, "jpeg", ["10", "20", "30"], "a.png", 0.44) == "20"
    assert visual.nearest_setting(rows, "jpeg", ["10", "20", "30"], "b.png", 0.44) is None


def test_images_are_spread_over_the_folder():
    names = tuple(f"{i}.png" for i in range(24))
    assert visual.pick_images(names, 3) == ["0.png", "12.png", "23.png"]   # type: ignore[arg-type]
    assert visual.pick_images(names[:2], 3) == ["0.png", "1.png"] and visual.pick_images(names, 0) == []


def test_the_crop_is_where_the_detail_is():
    rgb = np.full((256, 256, 3), 128, np.uint8)
    rgb[160:240, 20:100] = natural_like(80, 80, seed=1)
    top, left, side = html_report.detailed_crop(rgb, 96)
    assert side == 96 and top <= 160 < top + side and left <= 20 < left + side


def _page(tmp_path):
    """A page of two images, three tiles each, from synthetic pixels."""
    rgb = natural_like(120, 160, seed=0)
    noisy = np.clip(rgb + np.random.default_rng(0).normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    views = [html_report.view(f"img{i}.png", rgb, [("ours", "ours, quality 3", html_report.caption(0.4, 30, 60), noisy),
                                                  ("jpeg", "JPEG, quality 20", html_report.caption(0.41, 28, 40), rgb)])
             for i in range(2)]
    plot = tmp_path / "psnr.png"
    plot.write_bytes(html_report.png_bytes(rgb))
    table = [["curve", "against", "BD-rate"], ["ours", "JPEG", "-10 %"]]
    return html_report.write(tmp_path / "report.html", "test", "intro", [plot], table, views)


def test_the_page_is_self_contained(tmp_path):
    text = _page(tmp_path).read_text()
    sources = re.findall(r'src="([^"]*)"', text)
    assert len(sources) == 1 + 2 * (3 + 3)          # plot; per image: slider pair, thumbnail, 3 tiles
    assert all(s.startswith("data:image/") for s in sources)
    assert "http" not in text.replace("http-equiv", "")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_in_chromium_every_image_loads_and_the_controls_respond(tmp_path):
    page = _page(tmp_path)
    flags = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--hide-scrollbars", "--virtual-time-budget=10000"]
    url = page.as_uri() + "#selftest"
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    result = html_report.selftest_result(dom)
    assert result == {"images": 13, "broken": [], "sections": 2, "slider": True, "zoom": True, "select": True}
    shot = tmp_path / "screenshot.png"
    subprocess.run(flags + ["--window-size=1200,1400", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
