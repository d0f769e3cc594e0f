"""compose.yaml and its HAProxy configuration agree: PostgreSQL, two or more app replicas built
from this repository on it, and a proxy whose backend names exactly those replicas, with sticky
sessions for Streamlit's websocket, health checks and redispatch. HAProxy itself checks the file.
(No image registry is reachable here to pull postgres and haproxy images, so the stack is not
started; the image itself is built and run by test_docker.py, the replicas by test_replicas.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
HAPROXY = HAPROXY_CFG.read_text("utf-8")


def _apps() -> dict[str, dict]:
    return {name: svc for name, svc in COMPOSE["services"].items() if name.startswith("app-")}


def test_two_or_more_replicas_of_this_image_on_one_postgres():
    apps = _apps()
    assert len(apps) >= 2
    for service in apps.values():
        assert service["build"]["context"] == "."
        url = service["environment"]["NEXUSCHAT_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["env_file"] == "deploy/nexuschat.env"
    assert "pg_isready" in " ".join(COMPOSE["services"]["postgres"]["healthcheck"]["test"])


def test_the_proxy_backend_is_exactly_the_replicas_each_with_its_cookie():
    servers = re.findall(r"^\s*server\s+(\S+)\s+(\S+):8501\s+cookie\s+(\S+)", HAPROXY, re.M)
    assert sorted(host for _, host, _ in servers) == sorted(_apps())
    assert len({cookie for _, _, cookie in servers}) == len(servers)
    assert re.search(r"^\s*cookie\s+\S+\s+insert\b", HAPROXY, re.M)  # sticky sessions
    assert re.search(r"^\s*timeout tunnel\s+\d+", HAPROXY, re.M)  # websockets stay open
    assert re.search(r"^\s*option redispatch", HAPROXY, re.M)
    assert "/_stcore/health" in HAPROXY
    proxy = COMPOSE["services"]["proxy"]
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in proxy["volumes"]


def test_replicas_share_the_cookie_secret_from_one_env_file():
    example = (ROOT / "deploy" / "nexuschat.env.example").read_text("utf-8")
    assert re.search(r"^NEXUSCHAT_COOKIE_SECRET=\S+", example, re.M)
    ignored = (ROOT / ".gitignore").read_text("utf-8").split()
    assert "deploy/nexuschat.env" in ignored


def test_haproxy_accepts_the_configuration():
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists()
                                          else None)
    if haproxy is None:
        unavailable("HAProxy is not installed (Debian's haproxy package)")
    checked = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Replica names resolve only inside compose's network: anything else is a real problem.
    others = [line for line in checked.stderr.splitlines()
              if "WARNING" in line and "could not resolve address" not in line]
    assert others == []
