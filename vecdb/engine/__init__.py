"""The storage engine: collections of points on LMDB with in-memory indexes.

Import the pieces from their modules (`vecdb.engine.database.Database`, `vecdb.engine.schema`,
`vecdb.engine.types`, `vecdb.engine.filters`, `vecdb.engine.errors`); this package file stays
light so that importing the error hierarchy does not open LMDB or load hnswlib.
"""
