"""What this machine offers: the cores this process may use, a free loopback port."""

from __future__ import annotations

import os
import socket

import pytest

from nexuschat import local
from nexuschat.machine import cpu_cores, free_port


def test_the_cores_are_this_process_s_share_not_the_host_s():
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    assert cpu_cores() == len(os.sched_getaffinity(0))


def test_without_affinity_the_count_of_the_host_is_used(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # "undetermined"
    assert cpu_cores() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert cpu_cores() == 6


def test_the_local_server_runs_a_thread_per_core_by_default():
    assert local.LocalServer("/models/m.gguf").threads == cpu_cores()


def test_a_free_port_is_on_loopback_and_nobody_holds_it():
    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nobody holds it
