"""Training recipes for the models shipped in ``models/`` (not part of the installed package)."""
