"""`layerbridge batch`: specs expand to the right jobs; a run through a real daemon writes every
image, a manifest and a contact sheet; a stopped or crashed run resumes without redoing rows."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from layerbridge.daemon.batch import MANIFEST, Manifest, ProgressBar, local_model_hash, run_batch
from layerbridge.daemon.batch_spec import load_spec, parse_csv, parse_yaml
from layerbridge.daemon.cli import main
from layerbridge.daemon.client import DaemonClient
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.messages import JobParams
from PIL import Image

from .conftest import RunningDaemon

SPEC = """
name: Spring Campaign
prompt: "a {animal} in a {place}"
negative_prompt: "blurry {animal}"
vars: {animal: [fox, owl, cat], place: [forest, city]}
seeds: [1, 2]
model: demo
sizes: [64x64, 128x64]
steps: 2
"""  # 3 × 2 variables × 2 seeds × 2 sizes = 24 jobs


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_yaml_spec_expands_to_the_product_of_its_values() -> None:
    jobs = parse_yaml(SPEC, "spec").jobs()
    assert len(jobs) == 24
    prompts = {j.params.prompt for j in jobs}
    assert prompts == {f"a {a} in a {p}" for a in ("fox", "owl", "cat") for p in ("forest", "city")}
    first = jobs[0].params
    assert (first.negative_prompt, first.seed, first.width, first.height, first.steps) == (
        "blurry fox", 1, 64, 64, 2)
    assert {(j.params.width, j.params.height) for j in jobs} == {(64, 64), (128, 64)}
    assert len({j.job_id for j in jobs}) == 24 and all(len(j.job_id) <= 64 for j in jobs)


def test_job_ids_follow_the_parameters_not_the_order() -> None:
    a = parse_yaml(SPEC, "spec").jobs()
    b = parse_yaml(SPEC.replace("[fox, owl, cat]", "[cat, owl, fox]"), "spec").jobs()
    c = parse_yaml(SPEC.replace("steps: 2", "steps: 3"), "spec").jobs()
    assert {j.job_id for j in a} == {j.job_id for j in b}
    assert not {j.job_id for j in a} & {j.job_id for j in c}


def test_rows_override_per_row_and_models_sizes_and_lora_sets_multiply() -> None:
    spec = parse_yaml("""
prompt: "{subject}, {style}"
vars: {subject: [a lamp], style: [ink, oil]}
models: [demo, demo2]
loras: [[], [{id: paper, weight: 0.5}]]
rows:
  - {subject: a chair}
  - {subject: a vase, style: oil, steps: 9, seeds: {start: 10, count: 2}, size: 96x64}
""", "s")
    jobs = spec.jobs()
    assert len(jobs) == 2 * 2 * 1 + 2 * 2 * 2  # row 0: 1 seed; row 1: 2 seeds
    assert jobs[0].params.prompt == "a chair, ink"  # a variable a row leaves out: its first value
    vase = [j.params for j in jobs if j.params.prompt == "a vase, oil"]
    assert {p.seed for p in vase} == {10, 11} and {p.steps for p in vase} == {9}
    assert {(p.width, p.height) for p in vase} == {(96, 64)}
    assert {tuple((lo.id, lo.weight) for lo in p.loras) for p in vase} == {(), (("paper", 0.5),)}
    assert {p.model for p in vase} == {"demo", "demo2"}


def test_a_csv_spec_has_one_row_per_line() -> None:
    spec = parse_csv("prompt,product,model,size,seeds,loras,steps\n"
                     "\"a {product} on a table\",mug,demo,64x64,1;2,paper:0.7,2\n"
                     "\"a {product} on grass\",shoe,demo,128x64,,,3\n", "sheet")
    jobs = spec.jobs()
    assert [j.params.prompt for j in jobs] == ["a mug on a table"] * 2 + ["a shoe on grass"]
    assert [j.params.seed for j in jobs[:2]] == [1, 2]
    assert jobs[0].params.loras[0].id == "paper" and jobs[0].params.loras[0].weight == 0.7
    assert (jobs[2].params.width, jobs[2].params.steps) == (128, 3)
    assert jobs[2].params.seed is not None  # no seed given: a fixed one derived from the row


@pytest.mark.parametrize(("text", "field"), [
    ('prompt: "a {animal}"\nmodel: demo\n', "rows.0.prompt"),
    ('prompt: x\nmodel: demo\nsizes: [big]\n', "rows.0.sizes"),
    ('prompt: x\nmodel: demo\nsteps: 0\n', "rows.0.steps"),
    ('prompt: x\n', "rows.0.model"),
    ('prompt: x\nmodel: demo\ncolour: red\n', "colour"),
])
def test_a_bad_spec_names_the_field(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_yaml(text, "s").jobs()
    assert info.value.field == field


def test_dry_run_prints_how_many_jobs_the_spec_expands_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", str(write(tmp_path, SPEC)), "--dry-run"]) == 0
    assert "24 jobs (24 images) on demo; 0 already in" in capsys.readouterr().out


def test_progress_bar_shows_count_rate_and_eta() -> None:
    out = io.StringIO()
    bar = ProgressBar(total=40, skipped=10, stream=out)
    bar.advance()
    line = bar.line()
    assert line.startswith("   11/40 [") and "jobs/s" in line and "ETA" in line


async def test_a_batch_run_writes_every_image_a_manifest_and_a_contact_sheet(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    spec, out = write(tmp_path, SPEC), tmp_path / "out"
    summary = await run_batch(spec, out, daemon.url, daemon.token, window=8,
                              model_hash=local_model_hash(daemon.paths.root, out),
                              stream=io.StringIO())
    assert (summary.done, summary.skipped, summary.failed) == (24, 0, [])
    entries = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
    assert len(entries) == 24 and len(list(out.glob("0*.png"))) == 24
    entry = min(entries, key=lambda e: e["index"])
    assert entry["params"]["prompt"] == "a fox in a forest" and entry["seed"] == 1
    assert entry["variables"] == {"animal": "fox", "place": "forest"}
    assert len(entry["model_hash"]) == 64
    assert set(entry["timings"]) >= {"queued_s", "run_s", "total_s"}
    with Image.open(out / entry["images"][0]["file"]) as image:
        assert image.size == (64, 64)
    with Image.open(out / "contact-sheet.png") as sheet:
        assert sheet.width >= 5 * 128
    records = daemon.core.ledger.recent(100)
    assert len(records) == 24 and {r.priority for r in records} == {1}  # batch priority


async def test_a_stopped_run_resumes_and_skips_finished_rows(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    spec, out = write(tmp_path, SPEC), tmp_path / "out"
    task = asyncio.create_task(run_batch(spec, out, daemon.url, daemon.token, window=4,
                                         stream=io.StringIO()))
    while len(Manifest(out).entries) < 6:
        await asyncio.sleep(0.02)
    task.cancel()  # Ctrl+C: the jobs already with the daemon keep running there
    with pytest.raises(asyncio.CancelledError):
        await task
    # a crash mid-write leaves half a line; an image deleted by hand makes its row run again
    with (out / MANIFEST).open("a") as f:
        f.write('{"job_id": "batch-spring')
    finished = Manifest(out).entries
    lost = next(iter(finished.values()))
    (out / lost["images"][0]["file"]).unlink()

    summary = await run_batch(spec, out, daemon.url, daemon.token, stream=io.StringIO())
    assert summary.skipped == len(finished) - 1 and summary.failed == []
    assert summary.done == 24 - summary.skipped
    assert len(Manifest(out).entries) == 24 and len(list(out.glob("0*.png"))) == 24
    assert len(daemon.core.ledger.recent(100)) == 24  # resubmitting was the same jobs


async def test_an_interactive_job_goes_before_the_queued_batch_jobs(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    spec, out = write(tmp_path, SPEC.replace("steps: 2", "steps: 6")), tmp_path / "out"
    task = asyncio.create_task(run_batch(spec, out, daemon.url, daemon.token, window=8,
                                         stream=io.StringIO()))
    while daemon.core.manager.queue_info().queued < 4:
        await asyncio.sleep(0.01)
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        params = JobParams(kind="generate", model="demo", prompt="hero shot", width=64,
                           height=64, steps=2, seed=3)
        job = await client.submit(params)
        assert daemon.core.manager.position(job.job_id) in (1, 2)  # only the running job ahead
        await job.wait()
    summary = await task
    assert summary.done == 24


def test_load_spec_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot be read"):
        load_spec(tmp_path / "nope.yaml")


async def test_the_batch_command_killed_mid_run_resumes_to_every_image(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    spec, out = write(tmp_path, SPEC), tmp_path / "out"
    command = [sys.executable, "-m", "layerbridge.daemon.cli",
               "--data-dir", str(daemon.paths.root), "batch", str(spec), "--out", str(out),
               "--url", daemon.url, "--token", daemon.token, "--window", "4"]
    first = await asyncio.create_subprocess_exec(*command, stdout=PIPE, stderr=PIPE)
    while len(Manifest(out).entries) < 5:
        assert first.returncode is None, await first.communicate()
        await asyncio.sleep(0.02)
    first.kill()  # kill -9: no cleanup at all
    await first.wait()
    done_before = len(Manifest(out).entries)

    second = await asyncio.create_subprocess_exec(*command, stdout=PIPE, stderr=PIPE)
    stdout, stderr = await second.communicate()
    assert second.returncode == 0, stderr.decode()
    assert f"{24 - done_before} done, {done_before} skipped" in stdout.decode()
    assert len(Manifest(out).entries) == 24 and len(list(out.glob("0*.png"))) == 24
    assert (out / "contact-sheet.png").exists()


def test_a_rows_own_seed_model_or_size_replaces_the_specs_list() -> None:
    jobs = parse_yaml("""
prompt: x
models: [demo, demo2]
seeds: [1, 2]
sizes: [64x64, 128x128]
rows:
  - {seed: 5, model: solo, size: 96x64}
  - {width: 256, height: 192}
""", "s").jobs()
    first = [j.params for j in jobs if j.params.model == "solo"]
    assert [(p.seed, p.width, p.height) for p in first] == [(5, 96, 64)]
    second = [j.params for j in jobs if j.params.width == 256]
    assert {(p.height, p.seed) for p in second} == {(192, 1), (192, 2)} and len(second) == 4


@pytest.mark.parametrize(("text", "field"), [
    ('prompt: "a {animal"\nmodel: demo\nvars: {animal: [fox]}\n', "rows.0.prompt"),
    ('prompt: x\nmodel: demo\n1: a\ncolour: b\n', "1"),
    ('prompt: x\nmodel: demo\nseeds: {start: 0, count: 1000000000000}\n', "rows.0.seeds"),
    ("prompt: x\nmodel: demo\nvars: {" + ", ".join(f"v{i}: [{', '.join('abcdefghij')}]"
                                                   for i in range(12)) + "}\n", "vars"),
])
def test_a_malformed_spec_is_an_invalid_input_not_a_crash(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_yaml(text, "s").jobs()
    assert info.value.field == field


def test_an_empty_negative_prompt_is_empty_not_the_word_none() -> None:
    jobs = parse_yaml("prompt: x\nmodel: demo\nnegative_prompt:\n", "s").jobs()
    assert jobs[0].params.negative_prompt == ""


def test_a_csv_line_with_more_values_than_columns_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_csv("model,prompt\ndemo,a fox, watercolor\n", "sheet")
    assert info.value.field == "rows.0" and "quote" in str(info.value)


def _entry(job_id: str, row_id: str, index: int, file: str) -> dict[str, object]:
    return {"index": index, "job_id": job_id, "row_id": row_id,
            "images": [{"file": file, "seed": 1}]}


def test_a_row_finished_under_a_retry_job_id_counts_as_finished(tmp_path: Path) -> None:
    job = parse_yaml(SPEC, "spec").jobs()[0]
    (tmp_path / "00000-s1.png").write_bytes(b"png")
    Manifest(tmp_path).add(_entry(f"{job.job_id}-2", job.job_id, 0, "00000-s1.png"))
    assert Manifest(tmp_path).finished(job)


def test_an_entry_written_after_a_cut_short_line_survives(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text('{"job_id": "batch-a", "images": []}\n{"job_id": "batch-b')
    (tmp_path / "1.png").write_bytes(b"png")
    Manifest(tmp_path).add(_entry("batch-c", "batch-c", 1, "1.png"))
    assert set(Manifest(tmp_path).entries) == {"batch-a", "batch-c"}
