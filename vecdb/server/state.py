"""What every servicer shares: settings, the executors and the (possibly still opening) database.

The server binds its port before the database has been opened (recovery can take a while), so
health checks answer meanwhile. Until `set_database` is called, data calls fail with UNAVAILABLE;
if opening failed they keep failing with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vecdb.server.errors import ServerUnavailable
from vecdb.server.executors import Executors
from vecdb.server.settings import Settings

if TYPE_CHECKING:
    from vecdb.engine.database import Database
    from vecdb.engine.schema import CollectionConfig
    from vecdb.server.text_fields import TextFields

__all__ = ["ServerState"]


class ServerState:
    def __init__(self, settings: Settings, executors: Executors) -> None:
        self.settings = settings
        self.executors = executors
        self._database: Database | None = None
        self._failure: str | None = None
        self._closing = False
        self._text_fields: TextFields | None = None

    @property
    def text_fields(self) -> TextFields:
        """The encoder's side of collections; ServerUnavailable until the server has started it."""
        if self._text_fields is None:
            raise ServerUnavailable("the encoder is still starting; retry shortly")
        return self._text_fields

    def set_text_fields(self, text_fields: TextFields) -> None:
        self._text_fields = text_fields

    @property
    def database(self) -> Database:
        """The open database; ServerUnavailable while it opens, after it failed or while closing."""
        db = self._database
        if self._closing:
            raise ServerUnavailable("the server is shutting down; retry against another instance or later")
        if db is None:
            if self._failure is not None:
                raise ServerUnavailable(f"the database failed to open: {self._failure}; see the server log")
            raise ServerUnavailable("the database is still opening (recovering collections); retry shortly")
        return db

    def config_if(self, collection: str, needed: bool) -> CollectionConfig | None:
        """The collection's config when `needed` (to resolve with_vectors), else None."""
        if not needed:
            return None
        return self.database.collection_info(collection).config

    @property
    def ready(self) -> bool:
        return self._database is not None and not self._closing

    @property
    def database_or_none(self) -> Database | None:
        """The database whether or not calls are still admitted (for shutdown)."""
        return self._database

    def set_database(self, db: Database) -> None:
        self._database = db

    def set_failed(self, reason: str) -> None:
        self._failure = reason

    def set_closing(self) -> None:
        self._closing = True
