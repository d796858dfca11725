"""The API process: ``uvicorn app:app``. Everything else lives in the vigilante package."""

from vigilante.api import create_app, tune_gc

app = create_app()
tune_gc()
