"""Legacy PyTorch checkpoints read without PyTorch, and without running what they hold."""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

from core.assist import torch_weights
from core.assist.torch_weights import CheckpointError, read_legacy_checkpoint

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")


class FloatStorage:
    __module__ = "torch"


class LongStorage:
    __module__ = "torch"


def _rebuild_tensor_v2(*args: object) -> None:
    raise AssertionError("only pickled, never called here")


_rebuild_tensor_v2.__module__ = "torch._utils"
torch.FloatStorage, torch.LongStorage = FloatStorage, LongStorage  # type: ignore[attr-defined]
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]


class Tensor:
    """Pickles as torch.save writes a tensor: a call to _rebuild_tensor_v2 on a storage."""

    def __init__(self, key: str, kind: type, offset: int, shape: tuple, strides: tuple) -> None:
        self.storage = ("storage", kind, key, "cpu", 0, None)
        self.args = (offset, shape, strides, False, OrderedDict())

    def __reduce__(self) -> object:
        return _rebuild_tensor_v2, (Storage(self.storage), *self.args)


class Storage:
    def __init__(self, pid: tuple) -> None:
        self.pid = pid


class Writer(pickle.Pickler):
    def persistent_id(self, obj: object) -> object:
        return obj.pid if isinstance(obj, Storage) else None


def checkpoint(
    state: object, storages: dict[str, np.ndarray], magic: int = torch_weights.MAGIC
) -> bytes:
    """The bytes torch.save(state, _use_new_zipfile_serialization=False) writes."""
    out = io.BytesIO()
    for header in (magic, torch_weights.PROTOCOL, {"little_endian": True}):
        pickle.dump(header, out, protocol=2)
    sys.modules["torch"], sys.modules["torch._utils"] = torch, torch_utils
    try:
        Writer(out, protocol=2).dump(state)
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]
    pickle.dump(list(storages), out, protocol=2)
    for array in storages.values():
        out.write(struct.pack("<q", array.size))
        out.write(array.tobytes())
    return out.getvalue()


def read(data: bytes) -> dict[str, np.ndarray]:
    return read_legacy_checkpoint(io.BytesIO(data))


class TestReading:
    def test_tensors_come_back_by_name_with_their_layout(self) -> None:
        weights = np.arange(24, dtype=np.float32)
        state = OrderedDict(
            # A transposed view, as converted checkpoints often hold, and a scalar counter.
            conv=Tensor("1", FloatStorage, 0, (4, 6), (1, 4)),
            tail=Tensor("1", FloatStorage, 20, (4,), (1,)),
            count=Tensor("2", LongStorage, 0, (), ()),
        )
        found = read(checkpoint(state, {"1": weights, "2": np.array([7], dtype="<i8")}))
        assert np.array_equal(found["conv"], weights.reshape(6, 4).T)
        assert found["conv"].flags["C_CONTIGUOUS"]
        assert np.array_equal(found["tail"], [20, 21, 22, 23])
        assert found["count"].dtype == np.int64 and int(found["count"]) == 7


class TestRefusing:
    def test_a_checkpoint_cannot_run_code_while_it_is_read(self, tmp_path) -> None:
        marker = tmp_path / "ran"

        class Payload:
            def __reduce__(self) -> object:
                return os.mkdir, (str(marker),)

        with pytest.raises(CheckpointError, match=r"holds no (posix|os)\.mkdir"):
            read(checkpoint({"x": Payload()}, {}))
        assert not marker.exists()

    def test_a_view_reaching_past_its_storage_is_refused(self) -> None:
        state = {"w": Tensor("1", FloatStorage, 2, (4,), (1,))}
        with pytest.raises(CheckpointError, match="reaches past its storage"):
            read(checkpoint(state, {"1": np.zeros(5, dtype=np.float32)}))

    def test_negative_strides_are_refused(self) -> None:
        state = {"w": Tensor("1", FloatStorage, 3, (4,), (-1,))}
        with pytest.raises(CheckpointError, match="malformed"):
            read(checkpoint(state, {"1": np.zeros(5, dtype=np.float32)}))

    def test_a_cut_file_is_refused(self) -> None:
        state = {"w": Tensor("1", FloatStorage, 0, (4,), (1,))}
        data = checkpoint(state, {"1": np.zeros(4, dtype=np.float32)})
        with pytest.raises(CheckpointError, match="cut short"):
            read(data[:-3])

    def test_other_files_are_not_checkpoints(self) -> None:
        with pytest.raises(CheckpointError, match="not a legacy"):
            read(checkpoint({}, {}, magic=12345))
