"""The deployment files: docker-compose.yml, Dockerfile, deploy/.

No Docker engine runs in CI, so the stack is checked in two halves:

- the compose file is validated by Debian's `docker-compose config -q` (installed by the CI path)
  and its normalized form is read back to check what an operator relies on: a data volume on
  /data, a health check, published ports on loopback, and Prometheus scraping the metrics port;
- the container's entry command is smoke-tested natively: the exact CMD of the Dockerfile, with
  the image's config file (deploy/vecdb.toml) remapped to a temporary data folder and a free
  loopback port, must come up SERVING by the Dockerfile's own HEALTHCHECK command and answer a
  create / upsert / query round trip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
CONFIG = ROOT / "deploy" / "vecdb.toml"
PROMETHEUS = ROOT / "deploy" / "prometheus.yml"

_LISTENING = re.compile(r"vecdb listening on (\S+):(\d+)")


def docker_compose() -> str:
    """The docker-compose binary; in CI (env CI set) its absence is a failure, not a skip."""
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed; the CI path (./dev or .ci/run) must "
                        "`apt-get install -y docker-compose`")
        pytest.skip("docker-compose is not installed (apt-get install -y --no-install-recommends "
                    "docker-compose); CI installs it and runs this test")
    return binary


def compose_config(binary: str, compose_file: Path, *, quiet: bool) -> subprocess.CompletedProcess[str]:
    args = [binary, "--project-directory", str(compose_file.parent), "-f", str(compose_file), "config"]
    return subprocess.run([*args, "-q"] if quiet else args, check=False, capture_output=True, text=True,
                          timeout=60, cwd=compose_file.parent)


def dockerfile_instruction(name: str) -> str:
    """The argument text of the last `name` instruction of the Dockerfile, continuations joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = [line.split(None, 1)[1] for line in text.splitlines()
             if line.strip() and line.split(None, 1)[0].upper() == name]
    assert found, f"the Dockerfile has no {name} instruction"
    return found[-1].strip()


def exec_form(text: str) -> list[str]:
    """A JSON exec-form command (`["vecdb", "serve", ...]`)."""
    command = json.loads(text)
    assert isinstance(command, list) and all(isinstance(a, str) for a in command), text
    return command


# ---- the compose file ---------------------------------------------------------------------------


def test_compose_file_is_valid_for_docker_compose() -> None:
    result = compose_config(docker_compose(), COMPOSE, quiet=True)
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stdout}{result.stderr}"


def test_compose_validation_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validator used above really validates: a misspelt key and a bad port are errors."""
    binary = docker_compose()
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("healthcheck:", "healthchek:", 1))
    assert compose_config(binary, broken, quiet=True).returncode != 0
    broken.write_text(COMPOSE.read_text().replace('"127.0.0.1:6334:6334"', '"127.0.0.1:six:6334"', 1))
    assert compose_config(binary, broken, quiet=True).returncode != 0


def test_compose_stack_has_volume_healthcheck_and_prometheus() -> None:
    result = compose_config(docker_compose(), COMPOSE, quiet=False)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    vecdb = config["services"]["vecdb"]

    # The data lives in a named volume mounted where the image's config puts data_dir.
    mounts = [(v["source"], v["target"]) if isinstance(v, dict) else tuple(v.split(":")[:2])
              for v in vecdb["volumes"]]
    data_dir = _toml(CONFIG)["data_dir"]
    assert any(target == data_dir and source in config["volumes"] for source, target in mounts), mounts

    # The health check is the image's HEALTHCHECK command.
    assert vecdb["healthcheck"]["test"][1:] == exec_form(dockerfile_instruction("HEALTHCHECK").split("CMD", 1)[1])

    # Published on loopback only, on the ports the server listens on.
    ports = [_port_mapping(p) for p in vecdb["ports"]]
    grpc_port = int(_toml(CONFIG)["port"])
    metrics_port = int(vecdb["environment"]["VECDB_METRICS_PORT"])
    assert {target for _, target in ports} == {grpc_port, metrics_port}
    for host_ip, target in ports:
        assert host_ip == "127.0.0.1", f"port {target} is published beyond loopback ({host_ip!r})"
    exposed = {int(p) for p in dockerfile_instruction("EXPOSE").split()}
    assert {grpc_port, metrics_port} <= exposed

    # Prometheus scrapes the vecdb service on the metrics port, with this repository's config.
    prometheus = config["services"]["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus")
    assert any("prometheus.yml" in str(v) for v in prometheus["volumes"])
    scrape = yaml.safe_load(PROMETHEUS.read_text())
    targets = [t for job in scrape["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert f"vecdb:{metrics_port}" in targets


def _port_mapping(port: object) -> tuple[str, int]:
    """(host ip, container port) of a compose port entry, long or short syntax."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "")), int(port["target"])
    parts = str(port).split("/")[0].split(":")
    return (parts[0] if len(parts) == 3 else ""), int(parts[-1])


def _toml(path: Path) -> dict[str, object]:
    import tomllib

    data = tomllib.loads(path.read_text())
    return {**data.pop("server", {}), **data}


# ---- the container's entry command, run natively -------------------------------------------------


def _entry_command(config_file: Path) -> list[str]:
    """The Dockerfile's CMD, with its config path pointing at `config_file` and `vecdb` resolved
    to this interpreter's console script."""
    command = exec_form(dockerfile_instruction("CMD"))
    image_config = command[command.index("--config") + 1]
    assert image_config == "/etc/vecdb/vecdb.toml"
    assert f"COPY deploy/vecdb.toml {image_config}" in DOCKERFILE.read_text()
    command[command.index("--config") + 1] = str(config_file)
    return [_console_script(command[0]), *command[1:]]


def _console_script(name: str) -> str:
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return str(script)
    found = shutil.which(name)
    assert found, f"the {name!r} console script is not installed (pip install -e '.[server]')"
    return found


def test_entry_command_serves_and_round_trips(tmp_path: Path) -> None:
    # The image's config, with its paths and address remapped: everything else as shipped.
    text = CONFIG.read_text()
    text = re.sub(r'(?m)^data_dir = "[^"]*"', f'data_dir = "{tmp_path / "data"}"', text)
    text = re.sub(r'(?m)^host = "[^"]*"', 'host = "127.0.0.1"', text)
    text = re.sub(r"(?m)^port = \d+", "port = 0", text)
    config = tmp_path / "vecdb.toml"
    config.write_text(text)
    assert _toml(config)["host"] == "127.0.0.1" and _toml(config)["port"] == 0

    # The compose file's environment for the service, with the metrics port remapped too.
    compose_env = yaml.safe_load(COMPOSE.read_text())["services"]["vecdb"]["environment"]
    assert "VECDB_METRICS_PORT" in compose_env
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECDB_")}
    env.update({k: str(v) for k, v in compose_env.items()})
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VECDB_METRICS_PORT=str(_free_port()))
    proc = subprocess.Popen(_entry_command(config), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    port: list[int] = []
    listening = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            m = _LISTENING.search(line)
            if m and not listening.is_set():
                port.append(int(m.group(2)))
                listening.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not listening.wait(0.1):
            assert proc.poll() is None and time.monotonic() < deadline, \
                "the entry command did not start:\n" + "".join(output)
        address = f"127.0.0.1:{port[0]}"

        # The Dockerfile's HEALTHCHECK, verbatim, with the image's VECDB_ADDRESS remapped.
        probe = exec_form(dockerfile_instruction("HEALTHCHECK").split("CMD", 1)[1])
        health = subprocess.run([_console_script(probe[0]), *probe[1:]], check=False, capture_output=True, text=True,
                                timeout=60, env={**env, "VECDB_ADDRESS": address})
        assert health.returncode == 0 and health.stdout.strip() == "SERVING", health.stdout + health.stderr

        from vecdb_client import Client, VectorParams

        rng = np.random.default_rng(9)
        vectors = rng.standard_normal((64, 8)).astype(np.float32)
        with Client(address, timeout=60) as client:
            client.create_collection("smoke", VectorParams(8, metric="l2"))
            assert client.upsert("smoke", list(range(64)), vectors).count == 64
            hits = client.query("smoke", vectors[17] + 1e-3, limit=3)
            exact = np.argsort(((vectors - vectors[17]) ** 2).sum(axis=1))[:3]
            assert list(hits.ids) == exact.tolist()
            assert data_files(tmp_path / "data"), "the collection is not in the remapped data_dir"

        # What Prometheus scrapes (deploy/prometheus.yml: /metrics on the metrics port).
        url = f"http://127.0.0.1:{env['VECDB_METRICS_PORT']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            metrics = reply.read().decode()
        assert "vecdb_" in metrics and "Upsert" in metrics, metrics[:2000]

        proc.send_signal(signal.SIGTERM)  # what `docker stop` sends (STOPSIGNAL)
        assert proc.wait(60) == 0, "".join(output)
        assert "vecdb stopped" in "".join(output)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def data_files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("data.mdb")]
