"""JSON Schema of pydantic models as other tools read them: the one generator the
OpenAPI documents and the event contracts' schemas share.

Pydantic's defaults need two corrections to say what is served:
- a time of day (`day_start`) is a wall-clock time in the road show's zone, served
  as `09:00:00`: RFC 3339's partial-time. JSON Schema's `format: time` is the
  full-time, with an offset, which validators then demand; the schema says
  partial-time and gives the pattern.
- names of generic models (`PageOut[Roadshow]`) carry brackets, which component
  names may not; `PageOut` names its own parametrisations (`RoadshowPage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

Mode = Literal["validation", "serialization"]

PARTIAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"


class Schemas(GenerateJsonSchema):
    def time_schema(self, schema: core_schema.TimeSchema) -> dict[str, Any]:
        return {
            "type": "string",
            "format": "partial-time",
            "pattern": PARTIAL_TIME_PATTERN,
            "description": "A wall-clock time of day without offset (RFC 3339 partial-time)",
        }

    def normalize_name(self, name: str) -> str:
        # Any bracket left (a generic model that names itself the default way) goes.
        return super().normalize_name(name.replace("[", "Of").replace("]", "").replace(", ", ""))


def schemas_of(
    models: Sequence[tuple[type[BaseModel], Mode]], ref_template: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The schema (usually a `$ref`) of each (model, mode), in order, and the
    definitions they refer to. A model that reads differently when validated and
    when served gets two definitions (`Name-Input`, `Name-Output`)."""
    keyed: list[tuple[type[BaseModel], JsonSchemaMode]] = list(models)
    mapping, top = models_json_schema(keyed, ref_template=ref_template, schema_generator=Schemas)
    return [mapping[m] for m in keyed], top.get("$defs", {})


def standalone(model: type[BaseModel], mode: Mode = "validation") -> dict[str, Any]:
    """One model's self-contained schema, its definitions under `$defs`."""
    return model.model_json_schema(mode=mode, schema_generator=Schemas)
