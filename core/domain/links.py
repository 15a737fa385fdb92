"""Links to blobs that the API itself serves (where the blob store cannot sign its own): each
is signed for one project member, and the API checks at every request that the member still
belongs to the project and can still sign in, so a link dies with its holder's access. A write
link (`sp=w`, as a SAS names its permissions) takes a PUT of exactly one blob; a read link
cannot be used to write, nor a write link to read."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

BLOBS_PATH = "/api/blobs"
WRITE = "w"
"""The `sp` (signed permissions) of a write link, as in a SAS."""


@dataclass(frozen=True)
class Grant:
    """Who a link was made for, and through which project."""

    project_id: str
    user: str


@dataclass(frozen=True)
class LinkSigner:
    secret: bytes
    base_url: str = ""
    """Where the API is reached ('' for links relative to the page)."""

    def url(
        self, container: str, name: str, grant: Grant, *, expires_at: int, write: bool = False
    ) -> str:
        query = urlencode(
            {
                "exp": expires_at,
                "p": grant.project_id,
                "u": grant.user,
                **({"sp": WRITE} if write else {}),
                "sig": self._sign(container, name, grant, expires_at, write=write),
            }
        )
        path = f"{BLOBS_PATH}/{container}/{quote(name)}"
        return f"{self.base_url.rstrip('/')}{path}?{query}"

    def verify(
        self,
        container: str,
        name: str,
        grant: Grant,
        expires_at: str | int,
        sig: str,
        now: datetime,
        *,
        write: bool = False,
    ) -> bool:
        """Whether `sig` is this signer's for the blob, the grant and the expiry, and the
        expiry (unix seconds, as the query carries it) has not passed at `now`."""
        try:
            expires = int(expires_at)
        except (TypeError, ValueError):
            return False
        if now.timestamp() >= expires:
            return False
        # As bytes: `compare_digest` refuses non-ASCII str, and a forged `sig` may hold any text.
        given = str(sig).encode("utf-8", "surrogatepass")
        expected = self._sign(container, name, grant, expires, write=write).encode()
        return hmac.compare_digest(expected, given)

    def _sign(
        self, container: str, name: str, grant: Grant, expires_at: int, *, write: bool = False
    ) -> str:
        # Unambiguous: no part holds a newline (ids and user names are plain, and blob names
        # have no control characters). A write link signs one more line, so neither kind of
        # signature is the other's.
        message = f"{container}/{name}\n{expires_at}\n{grant.project_id}\n{grant.user}"
        if write:
            message += f"\n{WRITE}"
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()
