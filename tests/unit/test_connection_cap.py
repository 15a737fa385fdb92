"""`loupe serve` caps its open connections by the descriptors it may hold."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from core.local.runtime import connection_cap

CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
from core.local.runtime import connection_cap
print(connection_cap(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.parametrize(
    ("soft", "hard", "cap", "raised"),
    [
        (256, 256, 128, 256),
        (256, 1024, 512, 1024),
        (20, 20, 16, 20),
        (4096, 100_000, 4096, 100_000),
    ],
)
def test_the_cap_is_half_the_descriptors_after_raising_the_soft_limit(
    soft: int, hard: int, cap: int, raised: int
) -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < hard:
        pytest.skip("this machine's hard limit is lower")
    run = [sys.executable, "-c", CHILD, str(soft), str(hard)]
    done = subprocess.run(run, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(cap), str(raised)]


def test_the_cap_here_is_bounded() -> None:
    assert 16 <= connection_cap() <= 4096
