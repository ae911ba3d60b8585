"""Model registry and the verified weights cache."""

from redact.models.registry import ModelSpec, get_model, list_models
from redact.models.store import ModelStore

__all__ = ["ModelSpec", "ModelStore", "get_model", "list_models"]
