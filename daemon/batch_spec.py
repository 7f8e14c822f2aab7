"""Batch specs: prompt templates with variables, the values to combine, seeds, models, LoRAs,
sizes and per-row overrides, read from YAML or CSV and expanded into jobs.

Pure: reads the spec file and nothing else. Each expanded job has a job id derived from its
parameters, so submitting a spec twice is the same jobs (the daemon treats a repeated job id as
one job) and a resumed run can tell finished rows by id.

YAML (every key optional but `prompt` and `model`/`models`):

    name: spring-campaign
    prompt: "a {animal} in a {place}, {style}"
    negative_prompt: blurry
    vars: {animal: [fox, owl], place: [forest, city], style: [watercolor, ink]}
    seeds: [1, 2]                 # or {start: 100, count: 4}
    models: [demo]                # each row runs on every model...
    sizes: [512x512, 768x512]     # ...at every size...
    loras: [[], [{id: paper, weight: 0.8}]]   # ...with every LoRA set
    steps: 20
    guidance: 7.0
    scheduler: dpmpp_2m
    rows:                         # instead of the product of `vars`: one row each, with overrides
      - {animal: bear, place: cave, style: ink, steps: 30, seeds: [5]}

CSV: one row per line; columns named like a job field (prompt, negative_prompt, model, size,
width, height, steps, guidance, scheduler, seed, seeds "1;2", loras "id:0.8;id2") set it, every
other column is a variable of the prompt template.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import InvalidInput
from .protocol.codec import validation_error
from .protocol.messages import JobParams, LoraSpec

# keys a row (or the spec's top level) may set besides template variables
PARAM_KEYS = ("prompt", "negative_prompt", "steps", "guidance", "scheduler", "batch")
AXIS_KEYS = ("seeds", "seed", "models", "model", "sizes", "size", "width", "height", "loras")
SPEC_KEYS = ("name", "vars", "rows", *PARAM_KEYS, *AXIS_KEYS)
MAX_JOBS = 100_000
# a row's own form of an axis replaces the spec's other forms of it (a row's `seed: 5` is not
# mixed with, nor lost under, the spec's `seeds: [1, 2]`)
REPLACES = {
    "seed": ("seeds",), "seeds": ("seed",), "model": ("models",), "models": ("model",),
    "size": ("sizes", "width", "height"), "sizes": ("size", "width", "height"),
    "width": ("sizes", "size"), "height": ("sizes", "size"),
}


@dataclass(frozen=True)
class BatchJob:
    index: int  # position in the expansion, for file names and the contact sheet
    job_id: str
    params: JobParams
    variables: dict[str, str]


@dataclass(frozen=True)
class BatchSpec:
    name: str
    defaults: dict[str, Any]
    rows: list[dict[str, Any]]  # each: template variables and overrides

    def jobs(self) -> list[BatchJob]:
        jobs: list[BatchJob] = []
        for r, row in enumerate(self.rows):
            merged = _merged(self.defaults, row)
            for params, variables in _expand_row(merged, f"rows.{r}"):
                jobs.append(BatchJob(len(jobs), job_id_for(self.name, params), params, variables))
                if len(jobs) > MAX_JOBS:
                    raise InvalidInput("spec", self.name, f"expands to more than {MAX_JOBS} jobs")
        return jobs


def _merged(defaults: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key in row:
        for other in REPLACES.get(key, ()):
            if other not in row:
                merged.pop(other, None)
    merged.update(row)
    return merged


def job_id_for(name: str, params: JobParams) -> str:
    digest = hashlib.sha256(params.model_dump_json().encode()).hexdigest()[:20]
    return f"batch-{_slug(name)}-{digest}"


def load_spec(path: str | Path) -> BatchSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput("spec", str(path), f"cannot be read ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text, path.stem)
    return parse_yaml(text, path.stem)


def parse_yaml(text: str, default_name: str) -> BatchSpec:
    import yaml  # PyYAML: only the batch command needs it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput("spec", default_name, f"is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("spec", default_name, "must be a mapping of keys (prompt, vars, ...)")
    unknown = sorted(set(data) - set(SPEC_KEYS), key=str)
    if unknown:
        raise InvalidInput(str(unknown[0]), data[unknown[0]],
                           f"unknown spec key; known: {', '.join(SPEC_KEYS)}")
    name = str(data.pop("name", default_name))
    variables = data.pop("vars", None) or {}
    rows = data.pop("rows", None)
    if not isinstance(variables, dict):
        raise InvalidInput("vars", variables, "must map each variable to a list of values")
    if rows is None:
        names = list(variables)
        values = [_as_list(variables[n], f"vars.{n}") for n in names]
        if math.prod(len(v) for v in values) > MAX_JOBS:
            raise InvalidInput("vars", {n: len(v) for n, v in zip(names, values, strict=True)},
                               f"combine to more than {MAX_JOBS} rows")
        rows = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    elif not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput("rows", rows, "must be a list of mappings")
    else:
        # a row names only what differs; variables it leaves out take their first value
        base = {n: _as_list(v, f"vars.{n}")[0] for n, v in variables.items()}
        rows = [{**base, **r} for r in rows]
    return BatchSpec(name, data, rows)


def parse_csv(text: str, name: str) -> BatchSpec:
    reader = csv.DictReader(text.splitlines())
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(reader):
        row: dict[str, Any] = {}
        for key, value in line.items():
            if key is None:  # DictReader puts the values past the header's columns here
                raise InvalidInput(f"rows.{i}", value, "has more values than the header has "
                                   "columns (quote a value that contains commas)")
            if value is None or value.strip() == "":
                continue
            key, value = key.strip(), value.strip()
            if key in ("seeds", "models", "sizes"):
                row[key] = [v.strip() for v in value.split(";") if v.strip()]
            elif key == "loras":
                row[key] = [[_csv_lora(v, f"rows.{i}.loras")
                             for v in value.split(";") if v.strip()]]
            else:
                row[key] = value
        rows.append(row)
    if not rows:
        raise InvalidInput("spec", name, "has no rows")
    return BatchSpec(name, {}, rows)


# ---------------------------------------------------------------------- expansion


def _expand_row(row: Mapping[str, Any], where: str) -> Iterator[tuple[JobParams, dict[str, str]]]:
    variables = {k: str(v) for k, v in row.items() if k not in (*PARAM_KEYS, *AXIS_KEYS)}
    template = row.get("prompt")
    if not isinstance(template, str):
        raise InvalidInput(f"{where}.prompt", template, "every row needs a prompt (template)")
    prompt = _fill(template, variables, f"{where}.prompt")
    negative = _fill(str(row.get("negative_prompt") or ""), variables, f"{where}.negative_prompt")
    models = _axis(row, "models", "model", where)
    if not models:
        raise InvalidInput(f"{where}.model", None, "every row needs a model (or models)")
    sizes: list[tuple[int | None, int | None]] = [
        _size(s, f"{where}.sizes") for s in _axis(row, "sizes", "size", where)] or [
        (_opt_int(row.get("width"), f"{where}.width"),
         _opt_int(row.get("height"), f"{where}.height"))
    ]
    lora_sets = [_loras(s, f"{where}.loras") for s in _lora_sets(row.get("loras", []))]
    seeds = _seeds(row, where)
    for model, (width, height), loras in itertools.product(models, sizes, lora_sets):
        fields: dict[str, Any] = {
            "kind": "generate", "model": str(model), "prompt": prompt, "negative_prompt": negative,
            "width": width, "height": height, "loras": loras,
        }
        for key in ("steps", "guidance", "scheduler", "batch"):
            if key in row:
                fields[key] = row[key]
        for seed in seeds if seeds is not None else [None]:
            fields["seed"] = seed if seed is not None else _derived_seed(fields)
            try:
                params = JobParams.model_validate(fields)
            except ValidationError as exc:
                raise _located(validation_error(exc, fields), where) from None
            yield params, variables


def _fill(template: str, variables: Mapping[str, str], field: str) -> str:
    try:
        names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
    except ValueError as exc:  # an unbalanced brace
        raise InvalidInput(field, template, f"is not a valid template: {exc}") from None
    missing = sorted(names - set(variables))
    if missing:
        raise InvalidInput(field, template, f"uses {{{missing[0]}}}, which the row does not set")
    try:
        return template.format_map(variables)
    except (ValueError, IndexError, KeyError) as exc:
        raise InvalidInput(field, template, f"is not a valid template: {exc}") from None


def _axis(row: Mapping[str, Any], plural: str, single: str, where: str) -> list[Any]:
    if plural in row:
        return _as_list(row[plural], f"{where}.{plural}")
    return [row[single]] if single in row else []


def _seeds(row: Mapping[str, Any], where: str) -> list[int] | None:
    if "seeds" not in row and "seed" not in row:
        return None
    raw = row.get("seeds", row.get("seed"))
    if isinstance(raw, dict):
        start, count = raw.get("start", 0), raw.get("count", 1)
        if not isinstance(start, int) or not isinstance(count, int) or count < 1:
            raise InvalidInput(f"{where}.seeds", raw, "needs integer start and count ≥ 1")
        if count > MAX_JOBS:
            raise InvalidInput(f"{where}.seeds", raw, f"count is over {MAX_JOBS} jobs")
        return list(range(start, start + count))
    seeds = []
    for value in _as_list(raw, f"{where}.seeds"):
        try:
            seeds.append(int(value))
        except (TypeError, ValueError):
            raise InvalidInput(f"{where}.seeds", value, "is not an integer seed") from None
    return seeds


def _derived_seed(fields: Mapping[str, Any]) -> int:
    """A row without seeds still gets a fixed one, so a resumed run makes the same image."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _size(value: Any, field: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(value))
    if not match:
        raise InvalidInput(field, value, "must be WIDTHxHEIGHT, e.g. 512x512")
    return int(match.group(1)), int(match.group(2))


def _opt_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, value, "is not an integer") from None


def _loras(value: Any, field: str) -> list[LoraSpec]:
    out = []
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        if isinstance(item, LoraSpec):
            out.append(item)
        elif isinstance(item, str):
            out.append(_csv_lora(item, f"{field}.{i}"))
        elif isinstance(item, dict):
            try:
                out.append(LoraSpec.model_validate(item))
            except ValidationError as exc:
                raise _located(validation_error(exc, item), f"{field}.{i}") from None
        else:
            raise InvalidInput(f"{field}.{i}", item, "must be {id, weight} or 'id:weight'")
    return out


def _lora_sets(raw: Any) -> list[Any]:
    """`loras` is a list of LoRA sets (each row runs with each set) or one set."""
    if isinstance(raw, list) and raw and all(isinstance(x, list) for x in raw):
        return raw
    return [raw if isinstance(raw, list) else [raw]]


def _located(err: InvalidInput, where: str) -> InvalidInput:
    err.field = f"{where}.{err.field}" if err.field else where
    err.message = f"{where}: {err.message}"
    err.args = (err.message,)
    return err


def _csv_lora(text: str, field: str) -> LoraSpec:
    lora_id, _, weight = text.strip().partition(":")
    try:
        return LoraSpec(id=lora_id, weight=float(weight) if weight else 1.0)
    except (ValueError, ValidationError):
        raise InvalidInput(field, text, "must be ID or ID:WEIGHT") from None


def _as_list(value: Any, field: str) -> list[Any]:
    if isinstance(value, list):
        if not value:
            raise InvalidInput(field, value, "is an empty list")
        return value
    if isinstance(value, dict):
        raise InvalidInput(field, value, "must be a value or a list of values")
    return [value]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:30] or "batch"
