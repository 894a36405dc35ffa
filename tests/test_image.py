import numpy as np
import pytest
import torch
from PIL import Image

from codec.errors import BadImage
from codec.image import crop, load_rgb, pad


@pytest.mark.parametrize("mode, note", [("L", "grayscale"), ("P", "palette"), ("RGBA", "alpha channel dropped"),
                                        ("LA", "alpha channel dropped")])
def test_modes_become_rgb_with_a_note(tmp_path, capsys, mode, note):
    p = tmp_path / f"x_{mode}.png"
    Image.new(mode, (9, 5)).save(p)
    a = load_rgb(p)
    assert a.shape == (5, 9, 3) and a.dtype == np.uint8
    err = capsys.readouterr().err
    assert note in err and len(err.strip().splitlines()) == 1


def test_16bit_is_reduced_with_a_note(tmp_path, capsys):
    p = tmp_path / "x16.png"
    Image.fromarray(np.full((4, 6), 65535, dtype=np.uint16)).save(p)
    a = load_rgb(p)
    assert (a == 255).all() and "16-bit" in capsys.readouterr().err


def test_non_image_refused(tmp_path):
    p = tmp_path / "x.png"
    p.write_bytes(b"hello")
    with pytest.raises(BadImage, match="not a readable image"):
        load_rgb(p)


def test_pad_and_crop_are_inverse():
    x = torch.rand(1, 3, 17, 31)
    y = pad(x, 16)
    assert y.shape[-2:] == (32, 32)
    assert torch.equal(crop(y, 17, 31), x)
