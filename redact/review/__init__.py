"""Browser review of redaction plans (``redact review``). Importing this package loads no web
framework; ``redact.review.server`` does."""
