"""What every direct-transfer route answers: a link to PUT one file straight to storage (a user
delegation SAS on Azure, the API's own write link locally), of one shape for every client."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from core.domain.model import DomainModel

SHA256 = Field(
    pattern=r"^[0-9a-f]{64}$",
    description="The file's SHA-256, lowercase hex: the same file is the same job",
)


class Link(DomainModel):
    """PUT the file's bytes to `url` with `method` and `headers` (no token: the link is the
    credential) before `expiresAt`."""

    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime
