from vigilante.api.main import create_app, tune_gc

__all__ = ["create_app", "tune_gc"]
