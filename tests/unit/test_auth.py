"""API keys, roles and the RPC → role table (vecdb.server.auth), without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from vecdb.server.auth import (
    REQUIRED_ROLE,
    ApiKeys,
    Authenticator,
    PermissionDenied,
    Role,
    Unauthenticated,
    key_from_metadata,
    parse_key_spec,
    required_role,
)
from vecdb.server.convert_to_proto import SERVICE_NAMES
from vecdb.server.settings import Settings
from vecdb.v1 import (
    admin_service_pb2,
    cache_service_pb2,
    collections_service_pb2,
    encoder_service_pb2,
    points_service_pb2,
    query_service_pb2,
)

ADMIN_KEY = "adm-7f3c9e1b2a"
WRITER_KEY = "rw-55d01c9a7e"
READER_KEY = "ro-0b8e44f2c1"
SPEC = f"admin:{ADMIN_KEY},read-write:{WRITER_KEY},read-only:{READER_KEY}"


def _all_methods() -> list[str]:
    modules = (collections_service_pb2, points_service_pb2, query_service_pb2, admin_service_pb2,
               encoder_service_pb2, cache_service_pb2)
    return [
        f"/{service.full_name}/{method.name}"
        for module in modules
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]


def test_role_table_covers_exactly_the_rpcs_of_every_service() -> None:
    methods = _all_methods()
    assert {m.split("/")[1] for m in methods} == set(SERVICE_NAMES)
    assert sorted(REQUIRED_ROLE) == sorted(methods), "every vecdb.v1 RPC needs a deliberate role"


@pytest.mark.parametrize(("method", "role"), [
    ("/vecdb.v1.Points/Get", Role.READ_ONLY),
    ("/vecdb.v1.Points/Scroll", Role.READ_ONLY),
    ("/vecdb.v1.Query/QueryBatch", Role.READ_ONLY),
    ("/vecdb.v1.Collections/List", Role.READ_ONLY),
    ("/vecdb.v1.Admin/ServerInfo", Role.READ_ONLY),
    ("/vecdb.v1.Encoder/Encode", Role.READ_ONLY),
    ("/vecdb.v1.Cache/Lookup", Role.READ_ONLY),
    ("/vecdb.v1.Cache/GetPolicy", Role.READ_ONLY),
    ("/vecdb.v1.Points/Upsert", Role.READ_WRITE),
    ("/vecdb.v1.Points/UpsertStream", Role.READ_WRITE),
    ("/vecdb.v1.Points/Delete", Role.READ_WRITE),
    ("/vecdb.v1.Cache/Store", Role.READ_WRITE),
    ("/vecdb.v1.Cache/ReportFalseHit", Role.READ_WRITE),
    ("/vecdb.v1.Collections/Create", Role.ADMIN),
    ("/vecdb.v1.Collections/Delete", Role.ADMIN),
    ("/vecdb.v1.Admin/Checkpoint", Role.ADMIN),
    ("/vecdb.v1.Admin/RetrainQuantization", Role.ADMIN),
    ("/vecdb.v1.Admin/CreateSnapshot", Role.ADMIN),
    ("/vecdb.v1.Admin/ListSnapshots", Role.ADMIN),
    ("/vecdb.v1.Cache/SetPolicy", Role.ADMIN),
])
def test_required_roles_follow_the_issue(method: str, role: Role) -> None:
    assert required_role(method) is role


def test_unknown_method_needs_admin() -> None:
    assert required_role("/vecdb.v1.Points/SomethingNew") is Role.ADMIN


def test_role_order() -> None:
    assert Role.ADMIN.allows(Role.READ_WRITE) and Role.ADMIN.allows(Role.READ_ONLY)
    assert Role.READ_WRITE.allows(Role.READ_ONLY) and not Role.READ_WRITE.allows(Role.ADMIN)
    assert not Role.READ_ONLY.allows(Role.READ_WRITE)


def test_parse_key_spec_and_lookup() -> None:
    keys = ApiKeys.from_pairs(parse_key_spec(SPEC))
    assert len(keys) == 3 and keys.enabled
    assert keys.role_of(ADMIN_KEY) is Role.ADMIN
    assert keys.role_of(WRITER_KEY) is Role.READ_WRITE
    assert keys.role_of(READER_KEY) is Role.READ_ONLY
    assert keys.role_of(READER_KEY[:-1]) is None and keys.role_of(READER_KEY + "x") is None
    assert keys.role_of("") is None
    assert not ApiKeys().enabled and ApiKeys().role_of(ADMIN_KEY) is None


def test_the_same_key_with_two_roles_gets_the_higher() -> None:
    keys = ApiKeys.from_pairs(parse_key_spec("read-only:k1,admin:k1"))
    assert keys.role_of("k1") is Role.ADMIN


@pytest.mark.parametrize("spec", ["admin", "writer:abc123", "admin:", "admin:has space", "read-only:ké"])
def test_bad_spec_names_the_entry_but_never_the_key(spec: str) -> None:
    with pytest.raises(ValueError, match="entry 1") as info:
        parse_key_spec(spec)
    key = spec.partition(":")[2]
    if len(key) > 2:
        assert key not in str(info.value)


def test_keys_never_show_in_repr_or_settings() -> None:
    keys = ApiKeys.load(SPEC)
    assert ADMIN_KEY not in repr(keys) and repr(keys) == "ApiKeys(3 keys)"
    settings = Settings(api_keys=SPEC)
    assert ADMIN_KEY not in repr(settings) and READER_KEY not in repr(settings)
    with pytest.raises(ValueError) as info:
        Settings(api_keys=f"admin:{ADMIN_KEY},boss:{WRITER_KEY}")
    assert "boss" in str(info.value) and WRITER_KEY not in str(info.value)


def test_settings_from_environment() -> None:
    s = Settings.from_sources(environ={"VECDB_API_KEYS": SPEC, "VECDB_AUTH_EXEMPT_HEALTH": "false",
                                       "VECDB_METRICS_PORT": "0", "VECDB_LOG_FORMAT": "json"})
    assert s.api_keys == SPEC and s.auth_exempt_health is False and s.metrics_port == 0
    assert s.log_format == "json"
    with pytest.raises(ValueError, match="tls_key_file"):
        Settings(tls_cert_file="cert.pem")
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")


def test_key_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(f"# operators\nadmin {ADMIN_KEY}\n\n  read-only   {READER_KEY}  \n")
    keys = ApiKeys.load("", path)
    assert keys.role_of(ADMIN_KEY) is Role.ADMIN and keys.role_of(READER_KEY) is Role.READ_ONLY
    both = ApiKeys.load(f"read-write:{WRITER_KEY}", path)
    assert len(both) == 3 and both.role_of(WRITER_KEY) is Role.READ_WRITE

    path.write_text(f"admin {ADMIN_KEY}\nread-only\n")
    with pytest.raises(ValueError, match="line 2"):
        ApiKeys.load("", path)
    path.write_text(f"superuser {ADMIN_KEY}\n")
    with pytest.raises(ValueError, match="line 1: unknown role 'superuser'") as info:
        ApiKeys.load("", path)
    assert ADMIN_KEY not in str(info.value)
    with pytest.raises(ValueError, match="does not exist"):
        ApiKeys.load("", tmp_path / "missing.txt")


def test_key_file_toml(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(f'[keys]\nadmin = ["{ADMIN_KEY}"]\nread-only = ["{READER_KEY}", "other-reader"]\n')
    keys = ApiKeys.load("", path)
    assert len(keys) == 3
    assert keys.role_of("other-reader") is Role.READ_ONLY and keys.role_of(ADMIN_KEY) is Role.ADMIN
    path.write_text(f'admin = ["{ADMIN_KEY}"]\n')
    with pytest.raises(ValueError, match=r"\[keys\]"):
        ApiKeys.load("", path)


def test_key_from_metadata() -> None:
    assert key_from_metadata([("authorization", "Bearer abc")]) == "abc"
    assert key_from_metadata([("authorization", "bearer   abc ")]) == "abc"
    assert key_from_metadata([("x-api-key", "xyz")]) == "xyz"
    assert key_from_metadata([("x-api-key", "xyz"), ("authorization", "Bearer abc")]) == "abc"
    assert key_from_metadata([("authorization", "Basic abc")]) is None
    assert key_from_metadata([("vecdb-request-id", "r1")]) is None
    assert key_from_metadata(None) is None


def _bearer(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def test_authenticator_decisions() -> None:
    auth = Authenticator(ApiKeys.load(SPEC))
    assert auth.check("/vecdb.v1.Points/Get", _bearer(READER_KEY)) is Role.READ_ONLY
    assert auth.check("/vecdb.v1.Points/Upsert", _bearer(WRITER_KEY)) is Role.READ_WRITE
    assert auth.check("/vecdb.v1.Collections/Create", [("x-api-key", ADMIN_KEY)]) is Role.ADMIN

    with pytest.raises(Unauthenticated, match="carries none") as none:
        auth.check("/vecdb.v1.Points/Get", [])
    assert "api_key=" in none.value.message and "authorization: Bearer" in none.value.message

    wrong = "ro-0b8e44f2c2"
    with pytest.raises(Unauthenticated, match="not valid") as bad:
        auth.check("/vecdb.v1.Points/Get", _bearer(wrong))
    assert wrong not in bad.value.message

    with pytest.raises(PermissionDenied) as denied:
        auth.check("/vecdb.v1.Points/Upsert", _bearer(READER_KEY))
    msg = denied.value.message
    assert "Points/Upsert" in msg and "read-write" in msg and "read-only" in msg and READER_KEY not in msg
    with pytest.raises(PermissionDenied, match="admin"):
        auth.check("/vecdb.v1.Collections/Delete", _bearer(WRITER_KEY))


def test_health_and_reflection_exemptions() -> None:
    health = "/grpc.health.v1.Health/Check"
    reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    default = Authenticator(ApiKeys.load(SPEC))
    assert default.is_exempt(health) and not default.is_exempt(reflection)
    with pytest.raises(Unauthenticated):
        default.check(reflection, [])
    assert default.check(reflection, _bearer(READER_KEY)) is Role.READ_ONLY

    closed = Authenticator(ApiKeys.load(SPEC), exempt_health=False, exempt_reflection=True)
    assert not closed.is_exempt(health) and closed.is_exempt(reflection)
    with pytest.raises(Unauthenticated):
        closed.check(health, [])

    off = Authenticator()
    assert not off.enabled
    assert off.check("/vecdb.v1.Collections/Delete", []) is None and off.is_exempt(reflection)


# ---- the SDK side: how a client carries its key and TLS settings ----------------------------------


def test_sdk_sends_the_key_as_bearer_metadata_and_hides_it() -> None:
    from vecdb_client import _transport

    security = _transport.Security.create(api_key=READER_KEY)
    settings = _transport.Settings(30.0, 0, None, 1024, security)
    attempts = _transport.Attempts(settings, ...)
    assert ("authorization", f"Bearer {READER_KEY}") in attempts.metadata
    assert READER_KEY not in repr(security) and READER_KEY not in repr(settings)
    plain = _transport.Attempts(_transport.Settings(30.0, 0, None, 1024), ...)
    assert [k for k, _ in plain.metadata] == ["vecdb-request-id"]


def test_sdk_security_options_are_checked(tmp_path: Path) -> None:
    from vecdb_client import _transport, errors

    with pytest.raises(errors.InvalidArgument, match="api_key"):
        _transport.Security.create(api_key="has space")
    with pytest.raises(errors.InvalidArgument, match="PEM"):
        _transport.Security.create(root_certificates=b"not a certificate")
    with pytest.raises(errors.InvalidArgument, match="cannot read"):
        _transport.Security.create(root_certificates=tmp_path / "missing.pem")
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(errors.InvalidArgument, match="give both"):
        _transport.Security.create(client_certificate=pem)
    secured = _transport.Security.create(root_certificates=str(pem))
    assert secured.tls and secured.root_certificates == pem.read_bytes()  # a CA implies TLS
    assert not _transport.Security.create().tls


def test_sdk_warns_before_sending_a_key_in_plaintext_off_loopback() -> None:
    from vecdb_client import _transport

    keyed = _transport.Security.create(api_key=READER_KEY)
    with pytest.warns(RuntimeWarning, match="plaintext") as caught:
        keyed.warn_if_exposed("db.example.com:6334")
    assert READER_KEY not in str(caught[0].message)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for address in ("127.0.0.1:6334", "localhost:6334", "[::1]:6334"):
            keyed.warn_if_exposed(address)
        _transport.Security.create(api_key=READER_KEY, tls=True).warn_if_exposed("db.example.com:6334")
        _transport.Security.create().warn_if_exposed("db.example.com:6334")
