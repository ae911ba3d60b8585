"""The redaction plan: the one object that crosses from analysis to rendering, sealed by the
hash of its analysed part; what a person may edit, and how edits are found."""
