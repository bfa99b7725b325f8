"""The template models one installation can use: the shipped cards, and the operator's own
models registered in its database, loaded from the data directory.

A registered model lives in ``HOME/models/<model id>/`` (``card.json`` and the weights file)
and in the ``registered_model`` table, which is the record: its ``revision`` goes up with
every calibration. :meth:`ModelRegistry.card` gives a model's card after making sure this
process holds the card the database describes now (a calibration stored by another
process is picked up at the next use), and :meth:`ModelRegistry.load_all` loads every
registered model when the service starts, checking each weights file's SHA-256 again.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from facedocket.errors import ConfigurationError, InvalidInput
from facedocket.store.queries import models as queries
from facedocket.store.tables import RegisteredModel
from facedocket.vision import models
from facedocket.vision.models import Calibration, ModelCard

CARD_FILE = "card.json"


class ModelRegistry:
    """Shipped and registered template models of one installation (see the module docstring)."""

    def __init__(self, folder: Path, sessions: sessionmaker[Session]) -> None:
        self.folder = folder
        self.sessions = sessions
        self.problems: dict[str, str] = {}
        """model id -> why a registered model could not be loaded (at the last attempt)."""
        self._loaded: dict[str, tuple[int, ModelCard]] = {}
        """model id -> (revision, card) this registry put in the process's registry."""
        self._lock = threading.Lock()

    def card_path(self, model_id: str) -> Path:
        return self.folder / model_id / CARD_FILE

    def load_all(self) -> dict[str, str]:
        """Load every registered model (at service start); returns the problems, by model id.
        A model that fails to load (a missing or altered weights file) does not stop the
        others; using it later raises the same one-line error."""
        with self.sessions() as session:
            rows = queries.registered(session)
        for row in rows:
            try:
                self._load(row)
            except ConfigurationError:
                continue
        return dict(self.problems)

    def choose(self, model_id: str) -> ModelCard:
        """The card of a template model a user names (for a new gallery, a re-embedding):
        InvalidInput when this installation has no such template model, ConfigurationError
        when its files fail their check."""
        with self.sessions() as session:
            known = self.template_ids(session)
            if model_id not in known:
                raise InvalidInput(
                    f"no template model {model_id!r} here; choose one of: {', '.join(known)} (`facedocket model list`)"
                )
            return self.card(model_id, session)

    def card(self, model_id: str, session: Session | None = None) -> ModelCard:
        """The card of template model ``model_id`` as this installation knows it; a
        registered model is (re)loaded when the database holds a newer revision. Raises
        ConfigurationError for an unknown model, or one whose files fail their check."""
        if model_id in models.shipped_model_ids():
            card = models.model_card(model_id)
            if card.kind != "template":
                raise ConfigurationError(f"{model_id} is a {card.kind} model, not a template model")
            return card
        if session is None:
            with self.sessions() as own:
                return self._registered(own, model_id)
        return self._registered(session, model_id)

    def _registered(self, session: Session, model_id: str) -> ModelCard:
        revision = queries.revision(session, model_id)
        if revision is None:
            known = ", ".join(self.template_ids(session))
            raise ConfigurationError(
                f"unknown template model {model_id!r}; known here: {known}. An operator registers its own "
                "with `facedocket model add CARD.toml`"
            )
        with self._lock:
            loaded = self._loaded.get(model_id)
            if loaded is not None and loaded[0] == revision and models.registered_card(model_id) is loaded[1]:
                return loaded[1]
        row = queries.model(session, model_id)
        assert row is not None
        return self._load(row)

    def _load(self, row: RegisteredModel) -> ModelCard:
        with self._lock:
            try:
                card = models.load_card(self.card_path(row.model_id), register=False)
                if card.model_id != row.model_id:
                    where = self.card_path(row.model_id)
                    raise ConfigurationError(f"{where} describes {card.model_id}, not {row.model_id}")
                if card.sha256 != row.sha256:
                    raise ConfigurationError(
                        f"the card of {row.model_id} in {self.folder} names SHA-256 {card.sha256}, "
                        f"but {row.sha256} was registered"
                    )
            except ConfigurationError as e:
                self.problems[row.model_id] = str(e)
                self._loaded.pop(row.model_id, None)
                models.unregister_card(row.model_id)
                raise
            if row.calibration:
                card = replace(card, calibration=Calibration(**row.calibration))
            models.register_card(card, overwrite=True)
            self._loaded[row.model_id] = (row.revision, card)
            self.problems.pop(row.model_id, None)
            return card

    def template_ids(self, session: Session) -> list[str]:
        """Ids of the template models this installation knows: shipped and registered."""
        shipped = [m for m in models.shipped_model_ids() if models.model_card(m).kind == "template"]
        return sorted({*shipped, *(row.model_id for row in queries.registered(session))})

    def forget(self) -> None:
        """Unregister this installation's models from the process (the service closes)."""
        with self._lock:
            for model_id, (_revision, card) in self._loaded.items():
                if models.registered_card(model_id) is card:
                    models.unregister_card(model_id)
            self._loaded.clear()
