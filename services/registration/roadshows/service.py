"""Road-show use cases. Every partner reads road shows (several partners register
into one event); only the organising partner changes one."""

from __future__ import annotations

import uuid
from typing import Any

from services.registration import model
from services.registration.layout import LayoutIn, layout_fields
from services.registration.roadshows import repository as repo
from shared.contracts import registration as c
from shared.errors import Forbidden, NotFound
from shared.unit_of_work import UnitOfWork


def _with_layout(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with the layout as the event carries it (interpreters get ids)."""
    layout = LayoutIn.model_validate({k: fields[k] for k in LayoutIn.model_fields})
    return fields | layout_fields(layout)


async def create_roadshow(uow: UnitOfWork, cmd: model.NewRoadshow) -> c.Roadshow:
    fields = _with_layout(cmd.model_dump())
    roadshow = await repo.insert_roadshow(uow.conn, uuid.uuid4(), uow.partner_id, fields)
    uow.emit("roadshow.created", roadshow.roadshow_id, roadshow)
    return roadshow


async def get_roadshow(uow: UnitOfWork, roadshow_id: uuid.UUID) -> c.Roadshow:
    found = await repo.get_roadshow(uow.conn, roadshow_id)
    if found is None:
        raise NotFound("no such road show", field="roadshow_id")
    return found.roadshow


async def update_roadshow(
    uow: UnitOfWork, roadshow_id: uuid.UUID, patch: model.RoadshowChanges
) -> c.Roadshow:
    found = await repo.get_roadshow(uow.conn, roadshow_id, for_update=True)
    if found is None:
        raise NotFound("no such road show", field="roadshow_id")
    if found.organiser_id != uow.ctx.partner_id:
        raise Forbidden("only the organising partner changes a road show", field="roadshow_id")
    if not model.has_changes(patch):
        return found.roadshow
    fields = _with_layout(model.merge_patch(found.roadshow, patch, model.NewRoadshow))
    roadshow = await repo.update_roadshow(uow.conn, roadshow_id, fields)
    uow.emit("roadshow.updated", roadshow_id, roadshow)
    return roadshow


async def list_roadshows(
    uow: UnitOfWork, *, after: int | None, limit: int
) -> tuple[list[c.Roadshow], str | None]:
    return await repo.list_roadshows(uow.conn, after=after, limit=limit)


async def require_roadshow(uow: UnitOfWork, roadshow_id: uuid.UUID) -> None:
    """Raises NotFound (field `roadshow_id`); holds the road show still until commit."""
    if not await repo.lock_roadshow_for_registration(uow.conn, roadshow_id):
        raise NotFound("no such road show", field="roadshow_id")


async def check_availability(
    uow: UnitOfWork, roadshow_id: uuid.UUID, availability: Any, field: str
) -> None:
    """Raises InvalidInput (naming the window or slot id under `field`) unless the
    availability fits the road show's days and slots."""
    found = c.Availability.model_validate(availability or {})
    if not found.restricted:
        return
    roadshow = await repo.get_roadshow(uow.conn, roadshow_id)
    if roadshow is None:
        raise NotFound("no such road show", field="roadshow_id")
    model.check_availability(found, roadshow.roadshow, field)
