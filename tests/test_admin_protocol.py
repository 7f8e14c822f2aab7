"""The admin messages the tray needs: settings, default model, model metadata, locate, unload."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.config import load_settings
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.protocol.messages import (
    EngineUnload,
    JobParams,
    ModelLocation,
    ModelsAdd,
    ModelsList,
    ModelsLocate,
    ModelsRemove,
    ModelsReply,
    ModelsSetDefault,
    ModelsUpdate,
    Ok,
    SettingsGet,
    SettingsReply,
    SettingsSet,
)

from tests.conftest import RunningDaemon


async def test_settings_round_trip_and_need_a_restart(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as client:
        reply = await client.request(SettingsGet())
        assert isinstance(reply, SettingsReply)
        assert reply.settings.host == "127.0.0.1" and not reply.restart_required
        assert reply.settings.data_dir == str(daemon.paths.root)
        changed = reply.settings.model_copy(update={"port": 9123, "dtype": "fp32"})
        saved = await client.request(SettingsSet(settings=changed))
        assert isinstance(saved, SettingsReply)
        assert saved.settings.port == 9123 and saved.restart_required
    assert load_settings(daemon.paths).server.port == 9123
    assert load_settings(daemon.paths).engine.dtype == "fp32"


async def test_lan_mode_needs_explicit_confirmation(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as client:
        current = await client.request(SettingsGet())
        assert isinstance(current, SettingsReply)
        lan = current.settings.model_copy(update={"host": "0.0.0.0",
                                                  "allowed_hosts": ["gpu-box.studio.lan"]})
        with pytest.raises(RemoteError) as refused:
            await client.request(SettingsSet(settings=lan))
        assert refused.value.field == "host"
        assert load_settings(daemon.paths).server.host == "127.0.0.1"
        await client.request(SettingsSet(settings=lan, confirm_lan=True))
    assert json.loads(daemon.paths.settings.read_text())["server"]["host"] == "0.0.0.0"


async def test_client_tokens_cannot_read_settings(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        with pytest.raises(RemoteError) as refused:
            await client.request(SettingsGet())
        assert refused.value.code == "forbidden"


async def test_models_default_update_and_locate(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as client:
        reply = await client.request(ModelsSetDefault(model_id="demo"))
        assert isinstance(reply, ModelsReply)
        assert [m.id for m in reply.models if m.default] == ["demo"]
        updated = await client.request(ModelsUpdate(model_id="demo", name="Demo model",
                                                    trigger_words=[" tiny ", "", "random"]))
        assert isinstance(updated, ModelsReply)
        demo = next(m for m in updated.models if m.id == "demo")
        assert demo.name == "Demo model" and demo.trigger_words == ["tiny", "random"]
        assert demo.default and demo.arch == "sd15"
        where = await client.request(ModelsLocate(model_id="demo"))
        assert isinstance(where, ModelLocation)
        assert Path(where.path).is_dir() and Path(where.path).name == "demo"
        with pytest.raises(RemoteError) as missing:
            await client.request(ModelsSetDefault(model_id="nope"))
        assert missing.value.field == "model_id"


async def test_engine_unload_frees_loaded_models(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as client:
        job = await client.submit(JobParams(kind="generate", model="demo", prompt="a cat", steps=2,
                                            width=64, height=64, seed=1))
        await job.wait()
        assert (await client.status()).loaded == ["demo"]
        assert isinstance(await client.request(EngineUnload()), Ok)
        assert (await client.status()).loaded == []


async def test_engine_unload_of_one_model_keeps_the_others(daemon: RunningDaemon) -> None:
    import io

    from layerbridge.daemon.protocol.messages import ControlSpec
    from PIL import Image

    edges = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 250, 250)).save(edges, format="PNG")
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as client:
        sha = await client.upload(edges.getvalue())
        job = await client.submit(JobParams(kind="generate", model="demo", prompt="a cat", steps=1,
                                            width=64, height=64, seed=1,
                                            control=[ControlSpec(type="canny", image=sha)]))
        await job.wait()
        assert set((await client.status()).loaded) == {"demo", "demo-cn-canny"}
        assert isinstance(await client.request(EngineUnload(model_id="demo-cn-canny")), Ok)
        assert (await client.status()).loaded == ["demo"]
        with pytest.raises(RemoteError) as gone:
            await client.request(EngineUnload(model_id="demo-cn-canny"))
        assert gone.value.field == "model_id"
        assert "'demo-cn-canny': is not loaded (loaded now: demo)" in gone.value.message
        assert (await client.status()).loaded == ["demo"]


async def test_models_add_takes_the_model_id_apart_from_the_request_id(
        daemon: RunningDaemon) -> None:
    lora_dir = daemon.paths.models / "demo"
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as client:
        reply = await client.request(ModelsAdd(path=str(lora_dir), model_id="my-demo"))
        assert isinstance(reply, ModelsReply)
        assert "my-demo" in [m.id for m in reply.models]
        named = await client.request(ModelsAdd(path=str(lora_dir)))
        assert isinstance(named, ModelsReply)
        added = {m.id for m in named.models} - {m.id for m in reply.models}
        assert added == {"demo-2"}  # named after the folder, not after a request id


async def test_a_broken_model_is_listed_to_admins_by_id_and_reason_and_removed_by_it(
        daemon: RunningDaemon) -> None:
    gone = daemon.paths.root / "moved-away"
    shutil.copytree(daemon.paths.models / "demo", gone)
    Registry(daemon.paths).register("gone", gone, kind="checkpoint", arch="sd15", format="diffusers")
    shutil.rmtree(gone)
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        seen = await client.request(ModelsList())
    assert isinstance(seen, ModelsReply) and seen.broken == []  # a client has no use for them
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        listed = await admin.request(ModelsList())
        assert isinstance(listed, ModelsReply)
        assert [b.id for b in listed.broken] == ["gone"] and listed.broken[0].reason
        assert "gone" not in {m.id for m in listed.models}
        removed = await admin.request(ModelsRemove(model_id="gone"))
    assert isinstance(removed, ModelsReply) and removed.broken == []


async def test_a_checkpoints_prediction_is_set_at_add_and_changed_over_the_wire(
        daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        added = await admin.request(ModelsAdd(path=str(daemon.paths.models / "demo"),
                                              model_id="tuned", prediction="v"))
        assert isinstance(added, ModelsReply)
        assert {m.id: m.prediction for m in added.models}["tuned"] == "v_prediction"
        changed = await admin.request(ModelsUpdate(model_id="tuned", prediction="epsilon"))
        assert isinstance(changed, ModelsReply)
        assert {m.id: m.prediction for m in changed.models}["tuned"] == "epsilon"
        with pytest.raises(RemoteError) as refused:
            await admin.request(ModelsUpdate(model_id="demo-lora", prediction="v"))
    assert refused.value.field == "prediction"
