"""Data parallel on CPU with the gloo backend and 2 processes, as torchrun runs it."""
import hashlib
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from conftest import natural_like


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, folder: str, out: str) -> None:
    import warnings
    warnings.filterwarnings("ignore")
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from test_train import small_cfg
    from codec.training.train import Trainer
    cfg = small_cfg(folder, out, steps=3)
    cfg.train.threads = 1
    t = Trainer(cfg, log=lambda s: None)
    t.run()
    h = hashlib.sha256()
    for k, v in sorted(t.net.state_dict().items()):
        h.update(k.encode() + v.detach().contiguous().numpy().tobytes())
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
        f.write(h.hexdigest())
    torch.distributed.destroy_process_group()


@pytest.mark.filterwarnings("ignore")
def test_two_ranks_stay_identical_and_rank0_writes(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(natural_like(80, 96, seed=i)).save(folder / f"{i}.png")
    out = tmp_path / "run"
    out.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(folder), str(out)), nprocs=2, join=True)
    r0, r1 = (out / "rank0.txt").read_text(), (out / "rank1.txt").read_text()
    assert r0 == r1, "weights (quantiles included) diverged across ranks"
    from codec import checkpoint as ckpt_io
    c = ckpt_io.load(out / "last.pt")
    assert c.train_state["step"] == 3 and len(c.train_state["rng"]["ranks"]) == 1
    assert len(list((out / "tb").glob("events.out.tfevents.*"))) == 1
