"""Vigilante de Gastos: watches expenses as they happen and explains which ones look wrong."""

__version__ = "0.1.0"
