"""Operating the running patrol from the API: re-read the configuration (admins); the public key
that checks this box's case exports (anyone signed in)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from epatrol.api.auth import Admin, Ctx, Viewer, client_of
from epatrol.api.models import ERRORS
from epatrol.evidence.export import signing
from epatrol.evidence.review import audit

router = APIRouter(prefix="/api/system", tags=["system"], responses=ERRORS)


@router.post("/reload", status_code=202, responses={409: {"description": "No patrol runs in this process."}})
def reload_config(ctx: Ctx, who: Admin, request: Request) -> dict:
    """Re-read the configuration file, as SIGHUP does: added cameras start, removed ones stop,
    the rest carry on. Only when the API runs inside `epatrol run --serve`."""
    if ctx.reload is None:
        raise HTTPException(409, "no cameras run in this process (start the API with `epatrol run --serve`)")
    ctx.reload()
    audit.record(ctx.db, "system.reload", who.username, client=client_of(request))
    return {"status": "reload requested"}


@router.get("/export-key")
def export_key(ctx: Ctx, who: Viewer) -> dict:
    """The Ed25519 public key that signs this box's case exports, and its SHA-256 fingerprint (as
    `epatrol export-key` prints it): check an export with `epatrol verify-export FILE --public-key`."""
    if ctx.signing_key is None:  # an app built without one (create_app always loads one)
        raise HTTPException(404, "this API signs no exports")
    public = ctx.signing_key.public_key()
    return {"algorithm": signing.ALGORITHM, "public_key_pem": signing.public_pem(public), "sha256": signing.fingerprint(public)}
