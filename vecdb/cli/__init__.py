"""The admin command line `vecdb` (entry point `vecdb.cli.main:main`), a thin layer over the
vecdb_client SDK: serve, collection create/list/info/delete, import, search, count, health, info.

Modules: main (parser and error handling), cmd_* (one per command group), importer (resumable
import, testable without a server), sources (JSONL / .npy readers), output (tables and JSON).
"""
