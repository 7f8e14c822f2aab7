import json

import pytest
from layerbridge.daemon.errors import InvalidInput, ProtocolError, TooLarge
from layerbridge.daemon.protocol import parse_client_text, schema_text
from layerbridge.daemon.protocol.messages import Hello, JobParams, JobSubmit

SHA = "a" * 64


def submit(**params: object) -> str:
    return json.dumps({"type": "job.submit", "params": {"kind": "generate", "model": "demo", **params}})


def rejected(text: str | bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse_client_text(text)
    return info.value


def test_hello_parses_into_a_typed_message() -> None:
    msg = parse_client_text('{"type":"hello","protocols":[1],"client":{"name":"ps"},"token":"t"}')
    assert isinstance(msg, Hello) and msg.protocols == [1] and msg.client.name == "ps"


def test_generate_defaults_are_filled() -> None:
    msg = parse_client_text(submit())
    assert isinstance(msg, JobSubmit)
    assert (msg.params.steps, msg.params.scheduler, msg.params.batch) == (20, "dpmpp_2m", 1)


def test_unknown_message_type_names_the_type() -> None:
    err = rejected('{"type":"job.explode"}')
    assert err.field == "type" and "job.explode" in err.message


def test_extra_field_is_named() -> None:
    err = rejected('{"type":"ping","colour":"red"}')
    assert err.field == "colour" and "unknown field" in err.message


def test_missing_field_is_named() -> None:
    err = rejected('{"type":"hello","protocols":[1],"client":{"name":"ps"}}')
    assert err.field == "token"


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [
        ({"steps": 1000}, "params.steps", "1000"),
        ({"steps": 0}, "params.steps", "0"),
        ({"batch": 99}, "params.batch", "99"),
        ({"width": 65}, "params.width", "65"),
        ({"width": 100000}, "params.width", "100000"),
        ({"scheduler": "lms"}, "params.scheduler", "lms"),
        ({"model": "../etc/passwd"}, "params.model", "../etc/passwd"),
        ({"seed": -1}, "params.seed", "-1"),
    ],
)
def test_out_of_range_values_name_field_and_value(params: dict, field: str, value: str) -> None:
    err = rejected(submit(**params))
    assert err.field == field
    assert value in err.message


def test_job_kind_needs_its_inputs() -> None:
    err = rejected(json.dumps({"type": "job.submit", "params": {"kind": "inpaint", "model": "demo", "image": SHA}}))
    assert err.field == "params.mask" and "needs a mask" in err.message
    err = rejected(json.dumps({"type": "job.submit", "params": {"kind": "expand", "model": "demo", "image": SHA}}))
    assert err.field == "params.margins"


def test_a_lora_listed_twice_is_refused_by_its_field() -> None:
    err = rejected(submit(loras=[{"id": "ink", "weight": 0.5}, {"id": "film"}, {"id": "ink", "weight": 1.0}]))
    assert err.field == "params.loras.2.id" and "already listed" in err.message


def test_control_start_must_precede_end() -> None:
    with pytest.raises(ValueError, match="start"):
        JobParams.model_validate({"kind": "generate", "model": "demo",
                                  "control": [{"type": "canny", "image": SHA, "start": 0.8, "end": 0.2}]})


def test_non_json_and_non_utf8_text_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        parse_client_text("{nope")
    with pytest.raises(ProtocolError, match="UTF-8"):
        parse_client_text(b"\xff\xfe{}")
    with pytest.raises(ProtocolError, match="JSON object"):
        parse_client_text("[1, 2]")


def test_oversized_text_frame_is_refused() -> None:
    with pytest.raises(TooLarge):
        parse_client_text('{"type":"ping","id":"' + "x" * 300_000 + '"}')


def test_blobs_lists_every_referenced_blob_by_field() -> None:
    params = JobParams.model_validate({
        "kind": "inpaint", "model": "demo", "image": SHA, "mask": "b" * 64,
        "control": [{"type": "canny", "image": "c" * 64}]})
    assert params.blobs() == {"image": SHA, "mask": "b" * 64, "control.0.image": "c" * 64}


def test_committed_schema_is_current() -> None:
    from pathlib import Path

    committed = Path(__file__).parents[2] / "plugins" / "common" / "protocol.schema.json"
    assert committed.read_text() == schema_text(), (
        "plugins/common/protocol.schema.json is stale: run `make schema`")


def test_a_long_value_keeps_both_ends_in_the_message() -> None:
    path = "/Volumes/Studio Share/clients/" + "very-long-campaign-folder/" * 4 + "hero_mask_v12.png"
    err = InvalidInput("mask", path, "no such file")
    shown = err.message.split(": ", 1)[0]
    assert shown.startswith("mask='/Volumes/Studio Share") and shown.endswith("hero_mask_v12.png'")
    assert len(shown) <= len("mask=") + 80
