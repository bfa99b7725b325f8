"""Security helpers, pure (no SQL, no web framework): passwords, encryption at rest, CSRF.

- **Passwords**: :func:`check_password_policy` (the minimum policy below), then
  :func:`hash_password` (argon2id, RFC 9106 low-memory profile: 3 passes, 64 MiB, 4 lanes),
  :func:`verify_password`, :func:`password_needs_rehash`.
- **Encryption at rest** (photos, documents): :class:`AtRestCipher`, AES-256-GCM with a key
  derived per purpose by HKDF-SHA256 from a settings secret. Each ciphertext starts with a
  header naming its key id, so keys rotate: the current key encrypts, every configured key
  decrypts, :meth:`AtRestCipher.rotate` re-encrypts under the current one.
- **CSRF**: :func:`csrf_token` is an HMAC-SHA256 of the session id under a key derived from
  the server secret; :func:`csrf_valid` compares in constant time.

Example::

    >>> cipher = AtRestCipher("photo", {1: b"a secret of at least 32 characters!!"}, current=1)
    >>> blob = cipher.encrypt(b"jpeg bytes", associated="subject-photo:7")
    >>> cipher.decrypt(blob, associated="subject-photo:7")
    b'jpeg bytes'

The password policy (NIST SP 800-63B: length, no composition rules, a blocklist): at least
12 and at most 1,024 characters (after Unicode NFKC normalisation); not containing the
username (3 characters or more; otherwise not equal to it); not one string repeated
("aaaaaaaaaaaa", "passwordpassword"); not a run of keys, letters or digits
("qwertyuiopas", "123456789012"); and not one of the commonest password words with
digits, symbols or look-alike characters around or inside it ("P@ssw0rd2024!",
"Welcome12345", "iloveyou1234"): the list is :data:`COMMON_PASSWORD_WORDS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from facedocket.errors import ConfigurationError, DecryptionFailed, WeakPassword

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

# The commonest base words of leaked passwords (the words under the top entries of public
# breach lists such as the NCSC's top 100,000), compared after digits and symbols around
# them are stripped and look-alikes (0->o, 1->i, 3->e, 4->a, 5->s, 7->t, @->a, $->s) undone.
COMMON_PASSWORD_WORDS = frozenset(
    """password passwort motdepasse contrasena qwerty qwertz azerty asdf zxcv iloveyou
    loveyou welcome letmein admin administrator root login master dragon monkey shadow
    sunshine princess football baseball soccer hockey superman batman starwars pokemon
    whatever trustno freedom secret changeme changethis default guest test tester user
    hello abc abcd abcdef computer internet samsung google michael jennifer jessica
    charlie summer winter spring autumn flower purple hunter killer ninja mustang access
    passw passwd pass facedocket police sheriff""".split()  # noqa: SIM905
)

_LOOKALIKES = str.maketrans("013457@$", "oieastas")
_RUNS = (
    "0123456789012345678901234567890",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1q2w3e4r5t6y7u8i9o0p",
)

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def password_problems(password: str, username: str = "") -> list[str]:
    """Every way ``password`` fails the minimum policy (empty when it passes).

    Example::

        >>> password_problems("short", "ada")
        ['is shorter than 12 characters']
    """
    text = _normalise(password)
    lowered, user = text.lower(), _normalise(username).strip().lower()
    problems = []
    if len(text) < MIN_PASSWORD_LENGTH:
        problems.append(f"is shorter than {MIN_PASSWORD_LENGTH} characters")
    if len(text) > MAX_PASSWORD_LENGTH:
        problems.append(f"is longer than {MAX_PASSWORD_LENGTH} characters")
    if user and (lowered == user or (len(user) >= 3 and user in lowered)):
        problems.append("contains the username")
    if len(text) > 1 and re.fullmatch(r"(.+?)\1+", lowered):
        problems.append("is one string repeated")
    elif len(lowered) >= 4 and any(lowered in run or lowered in run[::-1] for run in _RUNS):
        problems.append("is a run of keys, letters or digits")
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", lowered).translate(_LOOKALIKES)
    if core in COMMON_PASSWORD_WORDS:
        problems.append("is a common password")
    return problems


def check_password_policy(password: str, username: str = "") -> None:
    """Raise :class:`~facedocket.errors.WeakPassword` naming every rule ``password`` fails."""
    problems = password_problems(password, username)
    if problems:
        raise WeakPassword(problems)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (NFKC-normalised), in PHC string form ``$argon2id$...``.

    The policy is not checked here: call :func:`check_password_policy` first.
    """
    return _hasher.hash(_normalise(password))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash. ``stored`` None (an unknown user)
    still costs one hash, so the time taken does not reveal which usernames exist.

    Raises:
        ConfigurationError: ``stored`` is not an argon2 hash (reset that user's password).
    """
    try:
        if stored is None:
            _hasher.verify(_dummy_hash(), _normalise(password))  # a random hash: never matches
            return False
        return _hasher.verify(stored, _normalise(password))
    except InvalidHashError:
        raise ConfigurationError("the stored password hash is not an argon2 hash; reset the password") from None
    except VerificationError:
        return False


def password_needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than today's (rehash at next sign-in)."""
    return _hasher.check_needs_rehash(stored)


def derive_key(secret: bytes, purpose: str, length: int = 32) -> bytes:
    """A key for one ``purpose`` ("photo", "csrf", ...) from a settings secret, by HKDF-SHA256.

    Keys for different purposes are independent, so one leaked derived key reveals neither
    the secret nor another purpose's key.
    """
    if not secret:
        raise ConfigurationError(f"no secret is configured for {purpose}; set it in the settings")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=b"facedocket/v1", info=purpose.encode())
    return hkdf.derive(secret)


def keyed_hash(secret: bytes, purpose: str, text: str) -> str:
    """HMAC-SHA256 (hex) of ``text`` under a key derived from ``secret`` for ``purpose``: a
    hash that no one without the secret can compute, so a list of guesses cannot confirm it.

    Example::

        digest = keyed_hash(settings.session_secret(), "erasure-reference", "Ann Lee")  # 64 hex digits
    """
    return hmac.new(derive_key(secret, purpose), text.encode("utf-8"), hashlib.sha256).hexdigest()


MAGIC = b"FDE"
FORMAT = 1
_CHECK = 4
_NONCE = 12
HEADER_SIZE = len(MAGIC) + 2 + _CHECK + _NONCE


class AtRestCipher:
    """AES-256-GCM for data at rest, with key ids so keys can rotate.

    Ciphertext layout: ``b"FDE"``, format byte (1), key id byte (1-255), 4-byte key check
    (HKDF of the key: tells a wrong key from altered data), 12-byte random nonce, then the
    AES-GCM ciphertext and tag. The header, the purpose and ``associated`` (say the record
    the blob belongs to) are authenticated, so a blob moved to another record fails.

    Args:
        purpose: what is encrypted ("photo"); each purpose derives its own keys.
        keys: key id -> secret (bytes), the current one and every older one still needed.
        current: the key id new data is encrypted with.
        hint: where these keys are configured, for error messages.
    """

    def __init__(self, purpose: str, keys: Mapping[int, bytes], current: int, hint: str = "the settings") -> None:
        if current not in keys:
            raise ConfigurationError(f"the current {purpose} key id {current} has no key; set it in {hint}")
        if not all(1 <= key_id <= 255 for key_id in keys):
            raise ConfigurationError(f"{purpose} key ids must be 1 to 255, not {sorted(keys)}; fix {hint}")
        self.purpose, self.current, self.hint = purpose, current, hint
        self._keys = {key_id: derive_key(secret, f"at-rest:{purpose}") for key_id, secret in keys.items()}
        self._checks = {key_id: derive_key(secret, f"key-check:{purpose}", _CHECK) for key_id, secret in keys.items()}

    def encrypt(self, data: bytes, associated: str = "") -> bytes:
        """``data`` encrypted under the current key; ``associated`` must be given again to decrypt."""
        header = MAGIC + bytes([FORMAT, self.current]) + self._checks[self.current] + secrets.token_bytes(_NONCE)
        return header + AESGCM(self._keys[self.current]).encrypt(header[-_NONCE:], data, self._aad(header, associated))

    def decrypt(self, blob: bytes, associated: str = "") -> bytes:
        """The data in ``blob``.

        Raises:
            ConfigurationError: the key id in the header is not configured, or its key is
                not the one the data was encrypted with.
            DecryptionFailed: not data of this format, or altered, truncated, or bound to
                another ``associated`` value.
        """
        key_id = self.key_id(blob)
        if key_id not in self._keys:
            raise ConfigurationError(
                f"this {self.purpose} data was encrypted with key id {key_id}, which is not configured; "
                f"add that key to {self.hint}"
            )
        header = blob[:HEADER_SIZE]
        if not hmac.compare_digest(header[5 : 5 + _CHECK], self._checks[key_id]):
            raise ConfigurationError(
                f"the {self.purpose} key with id {key_id} is not the key this data was encrypted with; "
                f"restore the original key {key_id} in {self.hint}"
            )
        try:
            return AESGCM(self._keys[key_id]).decrypt(
                header[-_NONCE:], blob[HEADER_SIZE:], self._aad(header, associated)
            )
        except InvalidTag:
            raise DecryptionFailed(
                f"encrypted {self.purpose} data failed its integrity check: altered, truncated or "
                "belonging to another record"
            ) from None

    def key_id(self, blob: bytes) -> int:
        """The key id in ``blob``'s header."""
        if len(blob) < HEADER_SIZE + 16 or blob[:3] != MAGIC:
            raise DecryptionFailed(f"this is not encrypted {self.purpose} data (no FaceDocket header)")
        if blob[3] != FORMAT:
            raise DecryptionFailed(f"encrypted {self.purpose} data has format {blob[3]}, this version reads {FORMAT}")
        return blob[4]

    def needs_rotation(self, blob: bytes) -> bool:
        """Whether ``blob`` is under an older key than the current one."""
        return self.key_id(blob) != self.current

    def rotate(self, blob: bytes, associated: str = "") -> bytes:
        """``blob`` re-encrypted under the current key (unchanged data, new nonce)."""
        return self.encrypt(self.decrypt(blob, associated), associated)

    def _aad(self, header: bytes, associated: str) -> bytes:
        return header + self.purpose.encode() + b"\0" + associated.encode()


def new_session_id() -> str:
    """A fresh random session id (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def csrf_token(secret: bytes, session_id: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of ``session_id`` under a key derived from the
    server ``secret``. Put it in every form; it changes when the session id does."""
    mac = hmac.new(derive_key(secret, "csrf"), session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_valid(secret: bytes, session_id: str, token: str | None) -> bool:
    """Whether ``token`` is the CSRF token of ``session_id`` (compared in constant time)."""
    if not token or not session_id:
        return False
    return hmac.compare_digest(csrf_token(secret, session_id).encode(), token.encode("utf-8", "replace"))
