"""The hotich HTTP service (FastAPI). This first version answers liveness; recognition endpoints follow."""
from __future__ import annotations

import logging

from fastapi import FastAPI

from hotich import __version__

log = logging.getLogger("hotich.server")


def create_app() -> FastAPI:
    app = FastAPI(title="hotich", version=__version__,
                  description="Handwriting recognition and field extraction for Vietnamese civil-status registers.")

    @app.get("/healthz", summary="Liveness", tags=["ops"],
             responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
    def healthz() -> dict:
        """The process is up and answering; says nothing about loaded models."""
        return {"status": "ok", "version": __version__}

    return app


def serve(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level=log_level)
