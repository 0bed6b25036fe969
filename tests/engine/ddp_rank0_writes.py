"""``vislearn ARGS`` under torchrun, where every process but rank 0 dies at once (exit 86, naming the file) if it
writes into the run folder (--out): for test_engine_distributed.py. Usage:
``python -m torch.distributed.run --nproc_per_node 2 --standalone ddp_rank0_writes.py train classify --out RUN ...``."""
from __future__ import annotations

import builtins
import os
import sys
from pathlib import Path

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT


def refuse_writes_into(folder: str, rank: str) -> None:
    """os.open/open for writing and os.replace into ``folder`` end the process: an atomic write needs one of them."""
    folder = str(Path(folder).resolve())
    real_open, real_os_open, real_replace = builtins.open, os.open, os.replace

    def refuse(path) -> None:
        if str(Path(os.fspath(path)).resolve()).startswith(folder):
            sys.stderr.write(f"rank {rank} wrote {path}\n")
            os._exit(86)

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS:
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guarded_replace(src, dst, *args, **kwargs):
        refuse(dst)
        return real_replace(src, dst, *args, **kwargs)

    builtins.open, os.open, os.replace = guarded_open, guarded_os_open, guarded_replace


if __name__ == "__main__":
    argv = sys.argv[1:]
    if os.environ.get("RANK", "0") != "0":
        refuse_writes_into(argv[argv.index("--out") + 1], os.environ["RANK"])
    from vislearn.cli import main

    sys.exit(main(argv))
