"""report.html: one self-contained page to look at, beside summary.md.

What it holds: the rate-distortion plots and the BD table of the run, and,
for a few images, the original and every codec's reconstruction at the
rate nearest our model's on that image, each labelled bpp / PSNR /
SSIMULACRA 2 from results.csv. Artefacts are seen on a crop (the most
detailed square of the image, at 1:1 pixels): a before/after slider between
any two of them, and a grid of all of them with a synchronized zoom (buttons
or wheel) and pan (drag) so every crop shows the same pixels.

Size: crops are lossless PNG (an artefact must not be the page's own), the
full images only as small JPEG thumbnails that show where the crop is: a
few MB for three images, not tens.

Everything is inline (data: URIs, one <style>, one <script>): the file can
be mailed or opened offline. Opened as ``report.html#selftest`` the script
also checks itself (every image decoded, the slider and zoom respond) and
writes the verdict as JSON into ``<pre id="selftest">``, which the browser
test reads from the DOM that headless Chromium dumps.
"""
from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fsio import write_atomic

CROP = 192            # pixels a side, shown at 1:1 and zoomed
THUMB_WIDTH = 384     # the context thumbnail


@dataclass(frozen=True)
class Tile:
    """One reconstruction (or the original) of one image, cropped."""

    name: str               # curve name, "original" for the source
    label: str
    caption: str            # "0.412 bpp · 29.81 dB · SSIMULACRA 2 61.3"
    png: bytes              # the crop, lossless


@dataclass(frozen=True)
class ImageView:
    image: str
    box: tuple[int, int, int]    # crop top, left, side
    thumb: bytes                 # JPEG of the whole original with the crop marked
    tiles: tuple[Tile, ...]      # original first, ours second


def detailed_crop(rgb: np.ndarray, side: int = CROP) -> tuple[int, int, int]:
    """(top, left, side) of the square with the most gradient energy, on a
    grid of half-side steps: where coding artefacts show."""
    h, w = rgb.shape[:2]
    side = min(side, h, w)
    g = rgb.astype(np.float32).mean(-1)
    energy = np.abs(np.diff(g, axis=0))[:, :-1] + np.abs(np.diff(g, axis=1))[:-1, :]
    best, where = -1.0, (0, 0)
    step = max(1, side // 2)
    for top in range(0, h - side + 1, step):
        for left in range(0, w - side + 1, step):
            e = float(energy[top:top + side - 1, left:left + side - 1].sum())
            if e > best:
                best, where = e, (top, left)
    return where[0], where[1], side


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def thumbnail(rgb: np.ndarray, box: tuple[int, int, int]) -> bytes:
    """A small JPEG (quality 90) of the whole image with the crop outlined."""
    from PIL import Image, ImageDraw
    im = Image.fromarray(rgb, "RGB")
    scale = min(1.0, THUMB_WIDTH / im.width)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    top, left, side = (round(v * scale) for v in box)
    ImageDraw.Draw(im).rectangle([left, top, left + side, top + side], outline=(255, 40, 40), width=2)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def caption(bpp: float, psnr: float, ssim2: float) -> str:
    return f"{bpp:.3f} bpp · {psnr:.2f} dB · SSIMULACRA 2 {ssim2:.1f}"


def view(image: str, rgb: np.ndarray, tiles: list[tuple[str, str, str, np.ndarray]]) -> ImageView:
    """Crop the original and every (name, label, caption, reconstruction)."""
    top, left, side = detailed_crop(rgb)

    def crop(a: np.ndarray) -> bytes:
        return png_bytes(a[top:top + side, left:left + side])
    out = [Tile("original", "original", f"{image}, crop at ({left}, {top})", crop(rgb))]
    out += [Tile(n, lab, cap, crop(rec)) for n, lab, cap, rec in tiles]
    return ImageView(image, (top, left, side), thumbnail(rgb, (top, left, side)), tuple(out))


def _uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td:first-child,td:nth-child(2),th{text-align:left}
.plots img{width:32%;min-width:360px;border:1px solid #ddd}
.compare{position:relative;width:384px;height:384px;overflow:hidden;border:1px solid #444;display:inline-block}
.compare img{position:absolute;top:0;left:0;width:384px;height:384px;image-rendering:pixelated}
.compare .after{clip-path:inset(0 0 0 50%)}
.compare .bar{position:absolute;top:0;bottom:0;left:50%;width:2px;background:#f33}
.grid{display:flex;flex-wrap:wrap;gap:10px}
.tile{width:""" + str(CROP + 2) + """px;font-size:11px}
.view{width:""" + str(CROP) + """px;height:""" + str(CROP) + """px;overflow:hidden;border:1px solid #444;cursor:grab}
.view img{display:block;transform-origin:0 0;image-rendering:pixelated;width:""" + str(CROP) + """px}
.ctl{margin:.5em 0}.ctl button{margin-right:4px}
.thumb{vertical-align:top;margin-left:1em}
"""

_SCRIPT = r"""
(function(){
  function setupCompare(sec){
    var box=sec.querySelector('.compare'), a=box.querySelector('.before'), b=box.querySelector('.after'),
        bar=box.querySelector('.bar'), range=sec.querySelector('input.slider'),
        selA=sec.querySelector('select.left'), selB=sec.querySelector('select.right');
    function src(name){return sec.querySelector('.tile[data-name="'+name+'"] img').src;}
    function move(){var v=range.value; b.style.clipPath='inset(0 0 0 '+v+'%)'; bar.style.left=v+'%';}
    range.addEventListener('input',move);
    selA.addEventListener('change',function(){a.src=src(selA.value);});
    selB.addEventListener('change',function(){b.src=src(selB.value);});
    move();
  }
  function setupZoom(sec){
    var st={z:1,x:0,y:0}, views=sec.querySelectorAll('.view'), label=sec.querySelector('.zoomlevel');
    var side=views[0].clientWidth;
    function apply(){
      var max=side-side/st.z; st.x=Math.min(Math.max(st.x,0),max); st.y=Math.min(Math.max(st.y,0),max);
      views.forEach(function(v){v.querySelector('img').style.transform=
        'scale('+st.z+') translate('+(-st.x)+'px,'+(-st.y)+'px)';});
      label.textContent=st.z+'x';
      sec.dataset.zoom=st.z; sec.dataset.panx=st.x; sec.dataset.pany=st.y;
    }
    sec.zoomTo=function(z){st.z=Math.max(1,Math.min(8,z)); apply();};
    sec.panBy=function(dx,dy){st.x+=dx/st.z; st.y+=dy/st.z; apply();};
    sec.querySelectorAll('button[data-zoom]').forEach(function(btn){
      btn.addEventListener('click',function(){sec.zoomTo(+btn.dataset.zoom);});});
    views.forEach(function(v){
      v.addEventListener('wheel',function(e){e.preventDefault(); sec.zoomTo(e.deltaY<0?st.z*2:st.z/2);});
      var drag=null;
      v.addEventListener('mousedown',function(e){drag=[e.clientX,e.clientY];e.preventDefault();});
      window.addEventListener('mouseup',function(){drag=null;});
      window.addEventListener('mousemove',function(e){if(!drag)return;
        sec.panBy(drag[0]-e.clientX,drag[1]-e.clientY); drag=[e.clientX,e.clientY];});
    });
    apply();
  }
  var secs=document.querySelectorAll('section.image');
  secs.forEach(function(s){setupCompare(s); setupZoom(s);});
  if(location.hash!=='#selftest')return;
  function check(){
    var imgs=[].slice.call(document.images);
    var broken=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0);}).map(function(i){return i.alt;});
    var res={images:imgs.length,broken:broken,sections:secs.length,slider:true,zoom:true,select:true};
    secs.forEach(function(s){
      var r=s.querySelector('input.slider'); r.value=20; r.dispatchEvent(new Event('input'));
      if(s.querySelector('.compare .after').style.clipPath.indexOf('20%')<0)res.slider=false;
      s.querySelector('button[data-zoom="4"]').click(); s.panBy(40,40);
      var t=s.querySelectorAll('.view img'), want=t[0].style.transform;
      if(s.dataset.zoom!=='4'||!(+s.dataset.panx>0)||want.indexOf('scale(4)')<0)res.zoom=false;
      t.forEach(function(i){if(i.style.transform!==want)res.zoom=false;});
      var sel=s.querySelector('select.right'); sel.selectedIndex=sel.options.length-1;
      sel.dispatchEvent(new Event('change'));
      if(s.querySelector('.compare .after').src!==s.querySelector('.tile[data-name="'+sel.value+'"] img').src)
        res.select=false;
    });
    document.getElementById('selftest').textContent=JSON.stringify(res);
    window.scrollTo(0,0);   // driving the controls may scroll; a screenshot should show the top
  }
  if(document.readyState==='complete')check(); else window.addEventListener('load',check);
})();
"""


def _image_section(v: ImageView) -> str:
    e = html.escape
    right = v.tiles[1].name if len(v.tiles) > 1 else v.tiles[0].name

    def options(selected: str) -> str:
        return "".join(f'<option value="{e(t.name)}"{" selected" if t.name == selected else ""}>{e(t.label)}</option>'
                       for t in v.tiles)
    first = _uri("image/png", v.tiles[0].png)
    after = _uri("image/png", next(t.png for t in v.tiles if t.name == right))
    tiles = "".join(
        f'<div class="tile" data-name="{e(t.name)}"><div class="view"><img alt="{e(v.image)} {e(t.name)}" '
        f'src="{_uri("image/png", t.png)}"></div><b>{e(t.label)}</b><br>{e(t.caption)}</div>' for t in v.tiles)
    return (f'<section class="image" id="img-{e(v.image)}"><h2>{e(v.image)}</h2>'
            f'<div class="ctl">left <select class="left">{options("original")}</select> right '
            f'<select class="right">{options(right)}</select> <input class="slider" type="range" min="0" max="100" value="50"></div>'
            f'<div class="compare"><img class="before" alt="{e(v.image)} left" src="{first}">'
            f'<img class="after" alt="{e(v.image)} right" src="{after}"><div class="bar"></div></div>'
            f'<img class="thumb" alt="{e(v.image)} thumbnail" src="{_uri("image/jpeg", v.thumb)}">'
            f'<div class="ctl">zoom <button data-zoom="1">1x</button><button data-zoom="2">2x</button>'
            f'<button data-zoom="4">4x</button><button data-zoom="8">8x</button> <span class="zoomlevel"></span>'
            f' (wheel to zoom, drag to pan: every crop follows)</div><div class="grid">{tiles}</div></section>')


def page(title: str, intro: str, plots: list[tuple[str, bytes]], table_html: str, views: list[ImageView]) -> str:
    e = html.escape
    imgs = "".join(f'<img alt="{e(name)}" src="{_uri("image/png", data)}">' for name, data in plots)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{e(title)}</h1><p>{intro}</p><div class=\"plots\">{imgs}</div>"
            f"<h2>Bjøntegaard deltas</h2>{table_html}"
            + "".join(_image_section(v) for v in views)
            + f'<pre id="selftest"></pre><script>{_SCRIPT}</script></body></html>')


def comparison_table(rows: list[list[str]]) -> str:
    """Header row first; cells are plain text."""
    if len(rows) < 2:
        return "<p>No comparisons.</p>"
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def write(path: Path, title: str, intro: str, plots: list[Path], table: list[list[str]],
          views: list[ImageView]) -> Path:
    text = page(title, intro, [(p.stem, p.read_bytes()) for p in plots if p.is_file()],
                comparison_table(table), views)
    write_atomic(path, text.encode("utf-8"))
    return path


def selftest_result(dom: str) -> dict:
    """The JSON the page's self-test wrote into <pre id="selftest"> of a dumped DOM."""
    start = dom.index('<pre id="selftest">') + len('<pre id="selftest">')
    return json.loads(html.unescape(dom[start:dom.index("</pre>", start)]))
