"""The Q8_0 copy of the packaged 4-bit model: same tensors and metadata, same weights, made once."""

from __future__ import annotations

import logging

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from byline.gguf_widen import widen_to_q8  # noqa: E402
from byline.llama_server import packaged_gguf  # noqa: E402


@pytest.fixture(scope="module")
def widened(tmp_path_factory):
    src = packaged_gguf()
    cache = tmp_path_factory.mktemp("models")
    return src, widen_to_q8(src, cache), cache


def test_copy_has_the_same_tensors_and_metadata_in_q8(widened):
    src, copy, cache = widened
    assert copy != src and copy.parent == cache and copy.is_file()
    a, b = gguf.GGUFReader(src), gguf.GGUFReader(copy)
    assert any(t.tensor_type.name == "Q4_1" for t in a.tensors)
    assert {t.tensor_type.name for t in b.tensors} <= {"Q8_0", "F32", "F16"}
    assert [(t.name, list(t.shape)) for t in a.tensors] == [(t.name, list(t.shape)) for t in b.tensors]
    fields = lambda r: {k for k in r.fields if not k.startswith("GGUF.")}  # noqa: E731
    assert fields(a) == fields(b)
    assert a.fields["tokenizer.chat_template"].contents() == b.fields["tokenizer.chat_template"].contents()


def test_weights_are_the_same_within_8_bit_rounding(widened):
    from gguf.quants import dequantize

    src, copy, _ = widened
    a = {t.name: t for t in gguf.GGUFReader(src).tensors}
    b = {t.name: t for t in gguf.GGUFReader(copy).tensors}
    checked = 0
    for name, t in a.items():
        if t.tensor_type.name != "Q4_1":
            continue
        x = dequantize(t.data, t.tensor_type)
        y = dequantize(b[name].data, b[name].tensor_type)
        # Q8_0 keeps 127 steps per 32-weight block: the error is half a step of the block's largest
        # weight, plus a little for the step being stored as float16 (measured at most 0.55 steps).
        blocks = np.abs(x.reshape(-1, 32)).max(axis=1, keepdims=True)
        assert np.all(np.abs((x - y).reshape(-1, 32)) <= blocks / 127 * 0.6 + 1e-6), name
        checked += 1
        if checked == 6:
            break
    assert checked == 6


def test_second_call_reuses_the_copy(widened):
    src, copy, cache = widened
    before = copy.stat().st_mtime_ns
    assert widen_to_q8(src, cache) == copy
    assert copy.stat().st_mtime_ns == before
    assert not list(cache.glob("*.partial"))


def test_an_8_bit_model_is_served_as_it_is(widened, tmp_path):
    _, copy, _ = widened
    assert widen_to_q8(copy, tmp_path) == copy
    assert not list(tmp_path.iterdir())


def test_a_broken_file_is_used_as_it_is_with_a_warning(tmp_path, caplog):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    with caplog.at_level(logging.WARNING, logger="byline.gguf_widen"):
        assert widen_to_q8(broken, tmp_path / "cache") == broken
    assert "Could not make a Q8_0 copy" in caplog.text
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
