"""The local provider's core: finding the bundled model, the server's options, its failures.

The real server is exercised in tests/integration; here only what needs no model.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from nexuschat.i18n import CATALOGUE
from nexuschat.local import (
    INSTALL_COMMAND,
    LOCAL_MODEL,
    MODEL_PACKAGE,
    SERVER_PACKAGES,
    LocalServer,
    LocalServerError,
    find_setup,
    server_args,
)


def fake_find_spec(model_dir=None, *, missing=()):
    """A find_spec that knows the server packages, and the model package in `model_dir`."""

    def find_spec(name):
        if name in missing:
            return None
        if name == MODEL_PACKAGE:
            if model_dir is None:
                return None
            return SimpleNamespace(submodule_search_locations=[str(model_dir)])
        return SimpleNamespace(submodule_search_locations=None)

    return find_spec


def test_the_gguf_is_found_in_the_model_package_folder(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    found = find_setup(fake_find_spec(tmp_path))
    assert found.available
    assert found.model_path == str(tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.mark.parametrize("package", SERVER_PACKAGES)
def test_a_missing_server_package_says_server(tmp_path, package):
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    found = find_setup(fake_find_spec(tmp_path, missing=(package,)))
    assert (found.available, found.missing) == (False, "server")


def test_a_missing_model_package_or_file_says_model(tmp_path):
    assert find_setup(fake_find_spec(None)).missing == "model"
    assert find_setup(fake_find_spec(tmp_path)).missing == "model"  # the folder has no .gguf


def test_a_find_spec_that_raises_counts_as_missing():
    def broken(name):
        raise ValueError(name)

    assert find_setup(broken).missing == "server"


def test_server_options_loopback_all_cores_gguf_template_and_no_interrupts():
    args = server_args("/models/m.gguf", 43210, 6)
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options["--model"] == "/models/m.gguf"
    assert options["--model_alias"] == LOCAL_MODEL
    assert options["--host"] == "127.0.0.1" and options["--port"] == "43210"
    assert options["--n_threads"] == options["--n_threads_batch"] == "6"
    assert options["--chat_format"] == "chat_template.default"  # the GGUF's own template
    assert options["--interrupt_requests"] == "False"


def test_a_server_that_cannot_start_is_an_error_not_a_hang(tmp_path):
    # A model file that does not exist: the subprocess exits (with or without llama-cpp).
    server = LocalServer(str(tmp_path / "missing.gguf"), threads=1)
    try:
        with pytest.raises(LocalServerError) as caught:
            server.start().wait_ready(timeout=60)
        assert caught.value.code == "local.error.exited"
        assert caught.value.params["code"] != 0
        assert not server.alive and not server.ready
    finally:
        server.stop()
    assert server.pid is None
    server.stop()  # idempotent


def test_a_server_that_is_not_running_is_not_waited_for(tmp_path):
    server = LocalServer(str(tmp_path / "missing.gguf"), threads=1)
    server.stop()
    with pytest.raises(LocalServerError) as caught:
        server.wait_ready(timeout=60)
    assert caught.value.code == "local.error.stopped"
    assert not server.ready and "port=0" in repr(server)


def test_every_local_message_is_in_the_catalogue():
    en = CATALOGUE["en"]
    codes = ["local.error.exited", "local.error.timeout", "local.error.stopped",
             "local.missing.server", "local.missing.model", "local.starting", "local.ready",
             "local.failed", "sidebar.provider.api", "sidebar.provider.local"]
    assert all(code in en for code in codes)
    assert "{command}" in en["local.missing.server"] and "pip install" in INSTALL_COMMAND
