"""Audit stage: the per-output record that proves what was done (schema in README)."""

from redact.audit.record import AUDIT_SUFFIX, SCHEMA, audit_path_for, build_record

__all__ = ["AUDIT_SUFFIX", "SCHEMA", "audit_path_for", "build_record"]
