"""HTTP pieces the box's API and the centre's API share: problem responses and query helpers.

Refusals map to statuses here: NotFound 404, Conflict 409, Invalid 422, anything else an
EvidenceError 400, each with a ``detail`` message; request validation errors also carry a
one-line ``detail`` and the list of ``errors``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from epatrol.common.errors import Conflict, EvidenceError, Invalid, NotFound

STATUS = {NotFound: 404, Conflict: 409, Invalid: 422}


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def validation_detail(errors: list[dict[str, Any]]) -> str:
    """The first five validation errors in one line, e.g. ``body.reason: Field required``."""
    parts = []
    for e in errors[:5]:
        if e.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({e.get('ctx', {}).get('error', 'decode error')})")
            continue
        where = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_problem_handlers(app: FastAPI) -> None:
    """Refusals and request validation errors answer as problems (see the module's docstring)."""

    @app.exception_handler(EvidenceError)
    async def _refused(_request: Request, exc: EvidenceError) -> JSONResponse:
        return problem(next((s for t, s in STATUS.items() if isinstance(exc, t)), 400), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
        return problem(422, validation_detail(list(exc.errors())), errors=jsonable_encoder(errors))


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def utc(value: datetime | None, what: str) -> datetime | None:
    """An aware query time in UTC, or 422 for one that cannot be (year 1 minus an offset)."""
    if value is None:
        return None
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise HTTPException(422, f"{what} is out of range") from None
