"""Tensors from a PyTorch checkpoint in the legacy (pre-1.6, non-zip) `torch.save` format, read
without PyTorch.

The file is four pickles — a magic number, the protocol version, system facts, the state dict
whose tensors point at storages by key — then the storage keys, then each storage's raw bytes
behind its element count. The unpickler accepts only the few globals a state dict of plain
tensors needs, so a checkpoint cannot run code while it is read (what `torch.load` of an
untrusted file would allow)."""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}


class CheckpointError(ValueError):
    """The file is not a legacy checkpoint of plain tensors."""


@dataclass(frozen=True)
class _Ref:
    """A tensor before its storage's bytes are read."""

    key: str
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


class _StateDict(dict[str, Any]):
    """Stands in for OrderedDict, which also carries `_metadata` as an attribute."""


def _rebuild_tensor(
    storage: tuple[str, str], offset: int, shape: Any, strides: Any, *_: Any
) -> _Ref:
    return _Ref(storage[0], int(offset), tuple(shape), tuple(strides))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self.storages: dict[str, np.dtype[Any]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return _StateDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        raise CheckpointError(f"a checkpoint of plain tensors holds no {module}.{name}")

    def persistent_load(self, pid: Any) -> tuple[str, str]:
        # ('storage', storage type, key, location, element count, view)
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        kind, key = pid[1], str(pid[2])
        if kind not in _DTYPES:
            raise CheckpointError(f"unsupported storage {kind!r}")
        self.storages[key] = _DTYPES[kind]
        return key, kind


def read_legacy_checkpoint(file: IO[bytes]) -> dict[str, npt.NDArray[Any]]:
    """Every tensor of the state dict, by name, as a contiguous NumPy array."""
    if _plain_load(file) != MAGIC or _plain_load(file) != PROTOCOL:
        raise CheckpointError("not a legacy torch.save checkpoint")
    facts = _plain_load(file)
    if not (isinstance(facts, dict) and facts.get("little_endian")):
        raise CheckpointError("only little-endian checkpoints are read")
    unpickler = _Unpickler(file)
    state = unpickler.load()
    if not isinstance(state, dict):
        raise CheckpointError("the checkpoint holds no state dict")
    storages: dict[str, npt.NDArray[Any]] = {}
    for key in _plain_load(file):
        (count,) = struct.unpack("<q", file.read(8))
        dtype = unpickler.storages[str(key)]
        data = file.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise CheckpointError(f"storage {key} is cut short")
        storages[str(key)] = np.frombuffer(data, dtype=dtype)
    tensors = {}
    for name, ref in state.items():
        if not isinstance(ref, _Ref):
            raise CheckpointError(f"{name} is not a tensor")
        storage = storages[ref.key]
        _check_within(name, ref, storage.size)
        itemsize = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[ref.offset :],
            shape=ref.shape,
            strides=tuple(s * itemsize for s in ref.strides),
            writeable=False,
        )
        tensors[name] = np.array(view, order="C")  # a copy; ascontiguousarray makes scalars 1-d
    return tensors


def _check_within(name: str, ref: _Ref, size: int) -> None:
    """A view must stay inside its storage: as_strided would read any memory it is told to."""
    if (
        len(ref.shape) != len(ref.strides)
        or min((*ref.shape, *ref.strides, ref.offset), default=0) < 0
    ):
        raise CheckpointError(f"{name} has a malformed shape or strides")
    if 0 in ref.shape:
        return
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides, strict=True))
    if last >= size:
        raise CheckpointError(f"{name} reaches past its storage")


def _plain_load(file: IO[bytes]) -> Any:
    """One of the header pickles, which hold only numbers, strings and dicts of them."""
    return _Unpickler(file).load()
