"""Real emulators for the Azure adapters: Azurite (Blob) and @vercel/cosmosdb-server (Cosmos).

A pytest plugin (session fixtures `azurite` and `cosmos_emulator`) and, for benchmarks and local
development, the context managers `start_azurite()` and `start_cosmos()`. Each server runs from
the repository's node_modules on 127.0.0.1, on a free port, in its own process group; it is
stopped by the PID recorded at start, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from azure.cosmos import CosmosClient
from azure.storage.blob import BlobServiceClient

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"

# The well-known development credentials both emulators accept (public, not secrets).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
COSMOS_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


class EmulatorError(RuntimeError):
    """An emulator is not installed or did not start."""


@dataclass(frozen=True)
class Azurite:
    port: int
    pid: int
    host: str = "127.0.0.1"
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    @property
    def blob_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def service_client(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string)


@dataclass(frozen=True)
class CosmosEmulator:
    port: int
    pid: int
    host: str = "127.0.0.1"
    key: str = COSMOS_KEY

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def client(self) -> CosmosClient:
        # Endpoint discovery would follow the account's advertised regions; the server has none.
        return CosmosClient(
            self.endpoint, self.key, connection_verify=False, enable_endpoint_discovery=False
        )


def _executable(name: str) -> Path:
    path = NODE_BIN / name
    if not path.exists():
        raise EmulatorError(
            f"{path} is missing: the emulators come from the repository's package.json. "
            "Run `make test` (it runs `npm install` first), or `npm install` in "
            f"{REPO_ROOT}, then run the tests again."
        )
    return path


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _read(log: IO[bytes], tail: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace").strip()[-tail:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (its PGID is its PID), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def _serve(name: str, args: list[str], host: str, ready: str) -> Iterator[tuple[int, int]]:
    """Start `node_modules/.bin/<name> <args with {port}>`; yield (port, pid) once it has
    printed `ready` (with {host} and {port}) and the port answers.

    A free port can be taken between probing and binding; the server then exits at once and
    is started again on another port (three tries). Waiting for its own ready line, not only
    for the port, keeps another process on that port from passing for it."""
    exe = _executable(name)
    with tempfile.TemporaryDirectory(prefix=f"loupe-{name}-") as workdir:
        for attempt in range(3):
            port = _free_port(host)
            log = tempfile.TemporaryFile(dir=workdir)  # noqa: SIM115 - closed in finally
            process = subprocess.Popen(
                [str(exe), *(a.format(port=port) for a in args)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + START_TIMEOUT_S
                marker = ready.format(host=host, port=port)
                while marker not in _read(log) or not _answers(host, port):
                    if process.poll() is not None:
                        break
                    if time.monotonic() > deadline:
                        raise EmulatorError(
                            f"{name} was not ready on {host}:{port} within {START_TIMEOUT_S:.0f}"
                            f" s; its output:\n{_read(log)}"
                        )
                    time.sleep(0.05)
                if process.poll() is not None:
                    output = _read(log)
                    if attempt < 2 and "EADDRINUSE" in output:
                        continue
                    raise EmulatorError(
                        f"{name} exited with status {process.returncode}; its output:\n{output}"
                    )
                yield port, process.pid
                return
            finally:
                _stop(process)
                log.close()


@contextlib.contextmanager
def start_azurite(host: str = "127.0.0.1") -> Iterator[Azurite]:
    """Azurite's Blob service, in memory, until the block exits."""
    args = [
        "--blobHost", host, "--blobPort", "{port}",
        "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent",
    ]  # fmt: skip
    ready = "successfully listens on http://{host}:{port}"
    with _serve("azurite-blob", args, host, ready) as (port, pid):
        yield Azurite(port=port, pid=pid, host=host)


@contextlib.contextmanager
def start_cosmos(host: str = "127.0.0.1") -> Iterator[CosmosEmulator]:
    """@vercel/cosmosdb-server over plain HTTP, in memory, until the block exits."""
    args = ["--no-ssl", "--host", host, "-p", "{port}"]
    ready = "Ready to accept HTTP connections at {host}:{port}"
    with _serve("cosmosdb-server", args, host, ready) as (port, pid):
        yield CosmosEmulator(port=port, pid=pid, host=host)


@contextlib.contextmanager
def _failing_clearly() -> Iterator[None]:
    """A missing or broken emulator fails the test with the reason (never a silent skip)."""
    try:
        yield
    except EmulatorError as error:
        pytest.fail(str(error), pytrace=False)


_started: dict[str, Azurite | CosmosEmulator] = {}
"""The session's emulators, once a test has asked for them."""


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with _failing_clearly(), start_azurite() as server:
        _started["azurite"] = server
        yield server
        del _started["azurite"]


@pytest.fixture(scope="session")
def cosmos_emulator() -> Iterator[CosmosEmulator]:
    with _failing_clearly(), start_cosmos() as server:
        _started["cosmos"] = server
        yield server
        del _started["cosmos"]


def holdings(server: Azurite | CosmosEmulator) -> set[str]:
    """The containers (Azurite) or databases (Cosmos) the server holds."""
    if isinstance(server, Azurite):
        with server.service_client() as service:
            return {container.name for container in service.list_containers()}
    with server.client() as client:
        return {database["id"] for database in client.list_databases()}


def remove(server: Azurite | CosmosEmulator, names: set[str]) -> None:
    """Delete these containers (Azurite) or databases (Cosmos); both emulators do it at once."""
    if isinstance(server, Azurite):
        with server.service_client() as service:
            for name in names:
                service.delete_container(name)
    else:
        with server.client() as client:
            for name in names:
                client.delete_database(name)


@pytest.fixture(autouse=True)
def _emulators_forget_each_test() -> Iterator[None]:
    """The emulators live for the session; what a test creates on them (containers,
    databases) is deleted after it, so the next test starts from what was there before
    (nothing, unless a session fixture put it there)."""
    before = {key: holdings(server) for key, server in _started.items()}
    yield
    for key, server in list(_started.items()):
        remove(server, holdings(server) - before.get(key, set()))
