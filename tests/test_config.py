"""Settings: every value is checked before it is saved, and a bad saved value never stops a start."""

from __future__ import annotations

import json
import logging

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.config import (
    MAX_MEMORY_BUDGET_MB,
    Paths,
    Settings,
    check_bind_host,
    load_settings,
    save_settings,
)
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.messages import SettingsGet, SettingsReply, SettingsSet

from tests.conftest import RunningDaemon


def settings_with(server: dict[str, object] | None = None, engine: dict[str, object] | None = None) -> Settings:
    # `model_copy(update=...)` validates nothing, as in the settings.set handler
    s = Settings()
    if server:
        s.server = s.server.model_copy(update=server)
    if engine:
        s.engine = s.engine.model_copy(update=engine)
    return s


def refusal(paths: Paths, settings: Settings) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        save_settings(paths, settings)
    return refused.value


@pytest.mark.parametrize(("server", "field", "shown"), [
    ({"host": "not a host!!"}, "server.host", "'not a host!!'"),
    ({"host": ""}, "server.host", "''"),
    ({"host": "999.1.1.1"}, "server.host", "'999.1.1.1'"),
    ({"host": "[::1]"}, "server.host", "'[::1]'"),
    ({"port": 70000}, "server.port", "70000"),
    ({"port": -1}, "server.port", "-1"),
    ({"allowed_origins": ["figma"]}, "server.allowed_origins", "figma"),
    ({"allowed_origins": ["https://www.figma.com/"]}, "server.allowed_origins", "https://www.figma.com/"),
    ({"allowed_origins": ["https://www.figma.com/file"]}, "server.allowed_origins", "file"),
    ({"allowed_origins": ["HTTPS://www.figma.com"]}, "server.allowed_origins", "lower case"),
    ({"allowed_origins": ["https://host:99999"]}, "server.allowed_origins", "99999"),
    ({"allowed_hosts": ["gpu.studio.lan:7842"]}, "server.allowed_hosts", "gpu.studio.lan:7842"),
    ({"allowed_hosts": ["bad host"]}, "server.allowed_hosts", "bad host"),
])
def test_a_bad_network_setting_is_refused_by_name_and_nothing_is_saved(
        tmp_path, server, field, shown) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    error = refusal(paths, settings_with(server=server))
    assert error.field is not None and error.field.startswith(field)
    assert field in error.message and shown in error.message
    assert not paths.settings.exists()


def test_well_formed_network_settings_are_saved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    save_settings(paths, settings_with(server={
        "host": "0.0.0.0", "port": 0,
        "allowed_origins": ["null", "https://www.figma.com", "http://localhost:5173", "http://[::1]:8080"],
        "allowed_hosts": ["gpu-box.studio.lan", "192.168.1.20", "fe80::1"]}))
    saved = load_settings(paths).server
    assert saved.host == "0.0.0.0" and saved.port == 0
    assert saved.allowed_origins[1] == "https://www.figma.com"
    assert saved.allowed_hosts == ["gpu-box.studio.lan", "192.168.1.20", "fe80::1"]


@pytest.mark.parametrize(("budget", "reason"), [
    (100, "below the minimum"),
    (0, "below the minimum"),
    (999999, "above the ceiling"),
])
def test_a_memory_budget_out_of_bounds_is_refused_not_saved_as_automatic(
        tmp_path, budget, reason) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    error = refusal(paths, settings_with(engine={"memory_budget_mb": budget}))
    assert error.field == "engine.memory_budget_mb"
    assert f"engine.memory_budget_mb={budget}" in error.message and reason in error.message
    assert not paths.settings.exists()


def test_a_cpu_budget_beyond_the_machines_memory_is_refused(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("layerbridge.daemon.config.physical_memory_mb", lambda: 8192)
    paths = Paths(tmp_path).ensure()
    error = refusal(paths, settings_with(engine={"device": "cpu", "memory_budget_mb": 16384}))
    assert "8192 MiB" in error.message
    save_settings(paths, settings_with(engine={"device": "cpu", "memory_budget_mb": 4096}))
    save_settings(paths, settings_with(engine={"device": "cuda", "memory_budget_mb": 16384}))
    assert load_settings(paths).engine.memory_budget_mb == 16384
    assert MAX_MEMORY_BUDGET_MB < 999999


def test_a_bind_host_given_on_the_command_line_is_checked_too() -> None:
    assert check_bind_host("gpu-box.local") == "gpu-box.local"
    assert check_bind_host("::") == "::"
    with pytest.raises(InvalidInput) as refused:
        check_bind_host("not a host!!")
    assert refused.value.field == "host"


def test_a_bad_saved_value_takes_its_default_and_the_log_says_why(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    paths.settings.write_text(json.dumps({
        "server": {"host": "not a host!!", "port": 7900, "allowed_origins": ["figma"]},
        "engine": {"memory_budget_mb": 100, "dtype": "fp32"},
        "surprise": 1,
    }))
    with caplog.at_level(logging.WARNING, logger="layerbridge.config"):
        settings = load_settings(paths)
    assert settings.server.host == "127.0.0.1" and settings.server.allowed_origins == []
    assert settings.engine.memory_budget_mb is None
    assert (settings.server.port, settings.engine.dtype) == (7900, "fp32")  # the good values stay
    logged = caplog.text
    assert "server.host='not a host!!'" in logged and "engine.memory_budget_mb=100" in logged
    assert "surprise" in logged and "server.allowed_origins" in logged


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff\xfe"])
def test_an_unreadable_settings_file_starts_with_the_defaults(tmp_path, caplog, text) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    paths.settings.write_bytes(text.encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="layerbridge.config"):
        assert load_settings(paths) == Settings()
    assert "default settings" in caplog.text


def test_saved_settings_are_readable_only_by_their_user(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    save_settings(paths, Settings())
    assert paths.settings.stat().st_mode & 0o777 == 0o600


async def test_settings_set_refuses_a_bad_value_by_name_before_saving(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as client:
        current = await client.request(SettingsGet())
        assert isinstance(current, SettingsReply)
        for update, field in [({"host": "not a host!!"}, "host"),
                              ({"allowed_origins": ["figma"]}, "allowed_origins"),
                              ({"allowed_hosts": ["a b"]}, "allowed_hosts")]:
            bad = current.settings.model_copy(update=update)
            with pytest.raises(RemoteError) as refused:
                await client.request(SettingsSet(settings=bad, confirm_lan=True))
            assert refused.value.code == "invalid_input" and field in (refused.value.field or "")
        with pytest.raises(RemoteError) as refused:
            await client.request(SettingsSet(settings=current.settings.model_copy(
                update={"memory_budget_mb": 999999})))
        assert refused.value.code == "invalid_input" and "memory_budget_mb" in (refused.value.field or "")
    assert not daemon.paths.settings.exists()


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "cuda:", "CUDA", "cuda:1:2"])
def test_a_device_that_names_nothing_is_refused_by_name(tmp_path, device) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    error = refusal(paths, settings_with(engine={"device": device}))
    assert error.field == "engine.device" and repr(device) in error.message


def test_one_gpu_of_several_is_chosen_by_its_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    save_settings(paths, settings_with(engine={"device": "cuda:1"}))
    assert load_settings(paths).engine.device == "cuda:1"
