"""API keys with roles: who may call which RPC.

A key is sent as gRPC metadata, `authorization: Bearer <key>` (preferred) or `x-api-key: <key>`.
Each configured key has one role; roles are ordered, each including the ones below it:

    read-only  <  read-write  <  admin

`REQUIRED_ROLE` names the least role of every vecdb.v1 RPC, keyed by the full method path
("/vecdb.v1.Points/Upsert"). A method missing from the table needs admin (fail closed), and a
unit test checks the table against the service descriptors so a new RPC gets a deliberate role.

Keys come from the setting `api_keys` ("role:key" pairs separated by commas, e.g. the
environment variable `VECDB_API_KEYS="admin:KEY1,read-only:KEY2"`) and from `api_keys_file`:
either lines of `role key` (blank lines and `#` comments ignored) or, for a file ending in
`.toml`, a table `[keys]` mapping each role to a list of keys. With no key configured,
authentication is off and every call is admitted (a server on loopback for development).

Checking a key compares its SHA-256 digest with every configured key's digest using
`hmac.compare_digest`, always over the whole list, so the time taken says nothing about how much
of a key matched or which entry did. Keys are never logged, never put in an error message and
never shown in `repr`; errors name the role and the metadata key instead.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vecdb.engine.errors import VecdbError

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 needs the `tomli` backport
    import tomli as _toml  # type: ignore[no-redef,import-not-found,unused-ignore]

__all__ = [
    "API_KEY_HEADER",
    "AUTHORIZATION_HEADER",
    "HEALTH_PREFIX",
    "REFLECTION_PREFIXES",
    "REQUIRED_ROLE",
    "ApiKeys",
    "Authenticator",
    "PermissionDenied",
    "Role",
    "Unauthenticated",
    "parse_key_spec",
    "required_role",
]

AUTHORIZATION_HEADER = "authorization"
API_KEY_HEADER = "x-api-key"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIXES = ("/grpc.reflection.v1alpha.ServerReflection/", "/grpc.reflection.v1.ServerReflection/")

_HOW_TO_SEND = (
    "send it as gRPC metadata 'authorization: Bearer <key>' (or 'x-api-key: <key>'); "
    "the SDK takes Client(address, api_key=...), the CLI --api-key or $VECDB_API_KEY"
)


class Unauthenticated(VecdbError):
    """The call carries no API key, or one the server does not know."""

    grpc_status = "UNAUTHENTICATED"
    error_name = "unauthenticated"


class PermissionDenied(VecdbError):
    """The call's API key is valid but its role does not allow the RPC."""

    grpc_status = "PERMISSION_DENIED"
    error_name = "permission_denied"


class Role(enum.Enum):
    """A key's role; a role includes every lower one (`allows`)."""

    READ_ONLY = "read-only"
    READ_WRITE = "read-write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, text: str, where: str) -> Role:
        name = text.strip().lower().replace("_", "-")
        for role in cls:
            if role.value == name:
                return role
        raise ValueError(
            f"{where}: unknown role {text.strip()!r}; use one of {', '.join(r.value for r in cls)}"
        )


_RANK = {Role.READ_ONLY: 0, Role.READ_WRITE: 1, Role.ADMIN: 2}

_R, _W, _A = Role.READ_ONLY, Role.READ_WRITE, Role.ADMIN

_TABLE: dict[str, dict[str, Role]] = {
    "Collections": {"Create": _A, "Delete": _A, "Get": _R, "List": _R, "Exists": _R},
    "Points": {"Upsert": _W, "UpsertStream": _W, "Delete": _W, "Get": _R, "Count": _R, "Scroll": _R},
    "Query": {"Query": _R, "QueryBatch": _R},
    "Admin": {
        "ServerInfo": _R, "Stats": _R, "Checkpoint": _A, "RetrainQuantization": _A,
        "CreateSnapshot": _A, "ListSnapshots": _A, "DeleteSnapshot": _A, "RestoreSnapshot": _A,
        "DownloadSnapshot": _A,
    },
    "Encoder": {"Encode": _R, "ListModels": _R},
    "Cache": {
        "Lookup": _R, "Stats": _R, "GetPolicy": _R,
        "Store": _W, "Invalidate": _W, "ReportLoad": _W, "ReportFalseHit": _W,
        "SetPolicy": _A,
    },
}

REQUIRED_ROLE: Mapping[str, Role] = {
    f"/vecdb.v1.{service}/{method}": role for service, methods in _TABLE.items() for method, role in methods.items()
}
"""The least role of every vecdb.v1 RPC, by full method path."""


def required_role(method: str) -> Role:
    """The role `method` (a full path) needs; admin for a method the table does not name."""
    return REQUIRED_ROLE.get(method, Role.ADMIN)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _check_key(key: str, where: str) -> str:
    key = key.strip()
    if not key:
        raise ValueError(f"{where}: an API key is empty")
    if any(c.isspace() or not c.isprintable() for c in key) or not key.isascii():
        # gRPC metadata values must be printable ASCII; say where, never the key itself.
        raise ValueError(f"{where}: an API key contains whitespace or non-printable/non-ASCII characters")
    return key


def parse_key_spec(text: str, where: str = "api_keys") -> list[tuple[Role, str]]:
    """ "role:key,role:key" -> [(role, key)]; errors name the entry's position, not the key."""
    entries: list[tuple[Role, str]] = []
    for n, item in enumerate((part.strip() for part in text.split(",")), start=1):
        if not item:
            continue
        role, sep, key = item.partition(":")
        if not sep:
            raise ValueError(f'{where}: entry {n} is not "role:key" (e.g. "admin:KEY1,read-only:KEY2")')
        entries.append((Role.parse(role, f"{where} entry {n}"), _check_key(key, f"{where} entry {n}")))
    return entries


def _read_key_file(path: Path) -> list[tuple[Role, str]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"api_keys_file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ValueError(f"api_keys_file {str(path)!r} cannot be read: {exc.strerror}") from None
    if path.suffix.lower() == ".toml":
        try:
            data = _toml.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, _toml.TOMLDecodeError) as exc:
            raise ValueError(f"api_keys_file {str(path)!r} is not valid TOML: {type(exc).__name__}") from None
        table = data.get("keys")
        if not isinstance(table, dict) or set(data) - {"keys"}:
            raise ValueError(
                f"api_keys_file {str(path)!r}: expected one table [keys] mapping roles to lists of keys, "
                'e.g. admin = ["KEY1"]'
            )
        entries: list[tuple[Role, str]] = []
        for role_name, keys in table.items():
            where = f"api_keys_file {str(path)!r} role {role_name!r}"
            role = Role.parse(role_name, where)
            items = [keys] if isinstance(keys, str) else keys
            if not isinstance(items, list) or not all(isinstance(k, str) for k in items):
                raise ValueError(f"{where}: give a list of key strings")
            entries += [(role, _check_key(k, where)) for k in items]
        return entries
    entries = []
    for lineno, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        where = f"api_keys_file {str(path)!r} line {lineno}"
        if len(parts) != 2:
            raise ValueError(f'{where}: expected "ROLE KEY" (e.g. "read-only 3f9c..."), got {len(parts)} words')
        entries.append((Role.parse(parts[0], where), _check_key(parts[1], where)))
    return entries


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys, held as SHA-256 digests with their roles. Empty: auth off."""

    _entries: tuple[tuple[bytes, Role], ...] = field(default=(), repr=False)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[Role, str]]) -> ApiKeys:
        return cls(tuple((_digest(key), role) for role, key in pairs))

    @classmethod
    def load(cls, spec: str = "", file: str | Path | None = None) -> ApiKeys:
        """Keys from a "role:key,..." spec and an optional key file (both may be given)."""
        pairs = parse_key_spec(spec) if spec else []
        if file:
            pairs += _read_key_file(Path(file))
        return cls.from_pairs(pairs)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ApiKeys({len(self)} keys)"

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def role_of(self, key: str) -> Role | None:
        """The role of `key`, or None when it is not configured. Constant time in the key: every
        entry is compared, and a key given twice with different roles gets the highest."""
        digest = _digest(key)
        found: Role | None = None
        for known, role in self._entries:
            if hmac.compare_digest(known, digest) and (found is None or role.rank > found.rank):
                found = role
        return found


def key_from_metadata(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    """The API key a call carries: `authorization: Bearer <key>`, else `x-api-key`; None if none."""
    bearer: str | None = None
    plain: str | None = None
    for name, value in metadata or ():
        if isinstance(value, bytes):
            continue
        lname = name.lower()
        if lname == AUTHORIZATION_HEADER and bearer is None:
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                bearer = rest.strip()
        elif lname == API_KEY_HEADER and plain is None and value.strip():
            plain = value.strip()
    return bearer if bearer is not None else plain


@dataclass(frozen=True)
class Authenticator:
    """Decides each call: admitted with a role, or an Unauthenticated / PermissionDenied error.

    exempt_health / exempt_reflection: whether grpc.health.v1 and server reflection answer
    without a key while keys are configured.
    """

    keys: ApiKeys = field(default_factory=ApiKeys)
    exempt_health: bool = True
    exempt_reflection: bool = False

    @property
    def enabled(self) -> bool:
        return self.keys.enabled

    def is_exempt(self, method: str) -> bool:
        """Whether `method` is answered without a key (always, with auth off)."""
        if not self.enabled:
            return True
        if method.startswith(HEALTH_PREFIX):
            return self.exempt_health
        if method.startswith(REFLECTION_PREFIXES):
            return self.exempt_reflection
        return False

    def check(self, method: str, metadata: Sequence[tuple[str, str | bytes]] | None) -> Role | None:
        """The caller's role (None for an exempt call); raises when the call must be refused."""
        if self.is_exempt(method):
            return None
        key = key_from_metadata(metadata)
        if key is None:
            raise Unauthenticated(f"{_short(method)} needs an API key and the call carries none: {_HOW_TO_SEND}")
        role = self.keys.role_of(key)
        if role is None:
            raise Unauthenticated(
                f"{_short(method)}: the API key is not valid on this server (it is not one of the configured "
                "keys); check the key, or ask the operator for one"
            )
        needed = required_role(method) if method.startswith("/vecdb.v1.") else Role.READ_ONLY
        if not role.allows(needed):
            raise PermissionDenied(
                f"{_short(method)} needs the {needed.value} role or higher; this API key has the "
                f"{role.value} role; use a key with the {needed.value} role"
                + ("" if needed is Role.ADMIN else " or admin")
            )
        return role

    @classmethod
    def from_settings(cls, api_keys: str, api_keys_file: str, exempt_health: bool,
                      exempt_reflection: bool) -> Authenticator:
        return cls(ApiKeys.load(api_keys, api_keys_file or None), exempt_health, exempt_reflection)


def _short(method: str) -> str:
    """"/vecdb.v1.Points/Upsert" -> "Points/Upsert"."""
    service, _, name = method.lstrip("/").rpartition("/")
    return f"{service.rsplit('.', 1)[-1]}/{name}" if service else method
