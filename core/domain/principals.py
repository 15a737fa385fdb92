"""The Azure Static Web Apps client principal: who signed in through the linked Static Web App.

SWA sends it to the linked API as `x-ms-client-principal`, base64 of JSON like
`{"identityProvider": "aad", "userId": "…", "userDetails": "ann@contoso.com",
"userRoles": ["anonymous", "authenticated"]}`. It is trustworthy only when nothing but the
Static Web App can reach the API, which is why a setting has to say so."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from core.domain.errors import Unauthorized

HEADER = "x-ms-client-principal"
SIGNED_IN = "authenticated"


@dataclass(frozen=True)
class ClientPrincipal:
    provider: str
    user_id: str
    name: str
    roles: frozenset[str]


def parse_client_principal(header: str) -> ClientPrincipal:
    try:
        data = json.loads(base64.b64decode(header + "=" * (-len(header) % 4), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Unauthorized(f"the {HEADER} header is not base64-encoded JSON") from None
    if not isinstance(data, dict):
        raise Unauthorized(f"the {HEADER} header is not a JSON object")
    name, roles = data.get("userDetails"), data.get("userRoles")
    if not isinstance(name, str) or not name or not isinstance(roles, list):
        raise Unauthorized(f"the {HEADER} header lacks userDetails or userRoles")
    principal = ClientPrincipal(
        provider=str(data.get("identityProvider", "")),
        user_id=str(data.get("userId", "")),
        name=name,
        roles=frozenset(str(role) for role in roles),
    )
    if SIGNED_IN not in principal.roles:
        raise Unauthorized("sign in through the Static Web App (/.auth/login/...) first")
    return principal
