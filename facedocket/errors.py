"""The one exception tree of FaceDocket.

Every error a user can cause is a ``FaceDocketError``; its message says what to do
next and its ``status`` is the HTTP status the API answers with::

    FaceDocketError (500)
    ├── InvalidInput (400)
    │   ├── InvalidImage (400)      bytes that are not a safe, decodable image
    │   ├── NoFaceFound (422)       an image with no usable face
    │   ├── SeveralFaces (422)      an image with more faces than the operation allows
    │   ├── ModelMismatch (409)     templates made by different models compared
    │   ├── RequestIncomplete (422) a search without a complete written request
    │   ├── WeakPassword (422)      a password the minimum policy refuses (every problem named)
    │   ├── PayloadTooLarge (413)   an upload over the size limit
    │   └── InvalidVideo (400)      a video file or stream that cannot be opened or decoded
    ├── Unauthorized (401)          missing, unknown or revoked token; a wrong password
    ├── TooManyAttempts (429)       sign-in refused for a while after failed attempts
    ├── TooManyRequests (429)       too many failed sign-ins from one client; retry after a while
    ├── Forbidden (403)             the role does not allow the action
    │   └── PolicyDenied (403)      the policy profile refuses a search (every failed rule named)
    ├── NotFound (404)              unknown id, or another agency's record
    ├── Conflict (409)              duplicate name and the like
    ├── ConfigurationError (500)    a model file or setting that cannot be used (a missing or
    │                               wrong decryption key too)
    ├── DecryptionFailed (500)      encrypted data that fails its integrity check (crypto.py)
    ├── SourceUnavailable (503)     a live video source still down after its reconnect attempts
    ├── Busy (503)                  every slot for the work is taken (e.g. image decodes); retry
    ├── StorageReadOnly (503)       the database or data directory cannot be written
    ├── StorageFull (507)           the database could not be written: its disk is full
    ├── IndexFileNotWritten (507)   an index file could not be written (the database is unchanged by it)
    └── IndexCorrupt (500)          an index file that cannot be trusted (matching/index.py;
                                    the service rebuilds the index from the database)
"""

from __future__ import annotations


class FaceDocketError(Exception):
    """Base of every error FaceDocket raises on purpose."""

    status: int = 500
    retry_after: int | None = None
    """Seconds after which trying again may work (the API's ``Retry-After``), when known."""

    @property
    def details(self) -> list[dict[str, object]]:
        """Structured details for the API's ``errors`` list (empty by default)."""
        return []


class InvalidInput(FaceDocketError):
    """The caller sent something we cannot use."""

    status = 400


class InvalidImage(InvalidInput):
    """The bytes are not an image we accept (corrupt, truncated, too large, not an image)."""

    status = 400


class NoFaceFound(InvalidInput):
    """No face was found where one was needed."""

    status = 422


class SeveralFaces(InvalidInput):
    """More than one face was found where exactly one was needed."""

    status = 422


class ModelMismatch(InvalidInput):
    """Templates from different models cannot be compared."""

    status = 409


class NotFound(FaceDocketError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404


class ConfigurationError(FaceDocketError):
    """A setting or a model file cannot be used as configured."""

    status = 500


class Busy(FaceDocketError):
    """Every slot for this kind of work is taken (e.g. concurrent image decodes); try again shortly."""

    status = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(FaceDocketError):
    """Too many failed sign-ins from one client: refused without a look until ``retry_after`` s pass."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageReadOnly(FaceDocketError):
    """The database or the data directory cannot be written (a read-only file system or file)."""

    status = 503


class StorageFull(FaceDocketError):
    """The database could not be written because its disk is full; nothing of the operation was saved."""

    status = 507


class IndexFileNotWritten(FaceDocketError):
    """An index file could not be written (a full disk, a read-only folder); the message names
    the file. The index is a cache of the database: searches use the one in memory."""

    status = 507


class Unauthorized(FaceDocketError):
    """No valid credentials: a missing, unknown or revoked token."""

    status = 401


class TooManyAttempts(FaceDocketError):
    """Sign-in refused for a while after failed attempts; ``retry_after`` seconds to wait."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s (or ask an admin to reset it)")


class Forbidden(FaceDocketError):
    """The caller's role does not allow this action."""

    status = 403


class Conflict(FaceDocketError):
    """The request clashes with what exists (a duplicate name, say)."""

    status = 409


class RequestIncomplete(InvalidInput):
    """A search was asked for without a complete written request (case, offence, legal basis,
    justification)."""

    status = 422


class PayloadTooLarge(InvalidInput):
    """An upload over the size limit."""

    status = 413


class InvalidVideo(InvalidInput):
    """A video file or stream that cannot be opened or decoded (missing, not a video, no
    video stream, unsupported source)."""

    status = 400


class SourceUnavailable(FaceDocketError):
    """A live video source that stayed down through all its reconnect attempts."""

    status = 503


class PolicyDenied(Forbidden):
    """The active policy profile refuses the action; ``failures`` names every failed rule."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        rules = "; ".join(f"{rule}: {why}" for rule, why in failures)
        super().__init__(f"the policy refuses this: {rules}")

    @property
    def details(self) -> list[dict[str, object]]:
        return [{"rule": rule, "msg": why, "type": "policy"} for rule, why in self.failures]


class WeakPassword(InvalidInput):
    """A password the minimum policy refuses; ``problems`` names every rule it fails."""

    status = 422

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"choose another password: it {'; it '.join(problems)}")

    @property
    def details(self) -> list[dict[str, object]]:
        return [{"rule": "password", "msg": f"it {why}", "type": "password"} for why in self.problems]


class DecryptionFailed(FaceDocketError):
    """Encrypted data that cannot be trusted: altered, truncated, not ours, or bound to another
    record. (A missing or wrong key is a :class:`ConfigurationError`.)"""

    status = 500
