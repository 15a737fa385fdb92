"""The API's own blob links: signed for one member of one project, until they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from core.domain.links import Grant, LinkSigner

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GRANT = Grant("p1", "ann")


def parts(url: str) -> tuple[str, str, Grant, str, str]:
    split = urlsplit(url)
    container, name = unquote(split.path).removeprefix("/api/blobs/").split("/", 1)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    return container, name, Grant(query["p"], query["u"]), query["exp"], query["sig"]


def test_a_link_verifies_for_its_blob_grant_and_time_only() -> None:
    signer = LinkSigner(b"k", "http://h:1/")
    expires = int((NOW + timedelta(seconds=60)).timestamp())
    url = signer.url("data", "dir/a b#?.png", GRANT, expires_at=expires)
    container, name, grant, exp, sig = parts(url)

    assert url.startswith("http://h:1/api/blobs/data/dir/a%20b%23%3F.png?")
    assert (container, name, grant) == ("data", "dir/a b#?.png", GRANT)
    assert signer.verify(container, name, grant, exp, sig, NOW)
    assert signer.verify(container, name, grant, int(exp), sig, NOW + timedelta(seconds=59))
    assert not signer.verify(container, name, grant, exp, sig, NOW + timedelta(seconds=61))
    assert not signer.verify(container, "dir/other.png", grant, exp, sig, NOW)
    assert not signer.verify("other", name, grant, exp, sig, NOW)
    assert not signer.verify(container, name, Grant("p2", "ann"), exp, sig, NOW)
    assert not signer.verify(container, name, Grant("p1", "bob"), exp, sig, NOW)
    assert not signer.verify(container, name, grant, str(int(exp) + 1), sig, NOW)
    assert not signer.verify(container, name, grant, exp, "0" * 64, NOW)
    assert not signer.verify(container, name, grant, exp, "é" * 64, NOW)
    assert not LinkSigner(b"other").verify(container, name, grant, exp, sig, NOW)
    assert not signer.verify(container, name, grant, "soon", sig, NOW)


def test_relative_links_for_the_page_that_asked() -> None:
    url = LinkSigner(b"k").url("exports", "p1/x.zip", GRANT, expires_at=1)
    assert url.startswith("/api/blobs/exports/p1/x.zip?exp=1&p=p1&u=ann&sig=")
