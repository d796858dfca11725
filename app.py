"""The API process: ``uvicorn app:app``. Everything else lives in the vigilante package."""

from vigilante.api import create_app

app = create_app()
