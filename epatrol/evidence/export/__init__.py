"""Case export: the zip package, its signature, and checking an export or the stored files."""
