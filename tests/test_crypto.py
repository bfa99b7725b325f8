"""facedocket.crypto: the password policy, argon2id hashing, AES-GCM at rest with key
rotation, CSRF tokens."""

from __future__ import annotations

import pytest

from facedocket.crypto import (
    HEADER_SIZE,
    AtRestCipher,
    check_password_policy,
    csrf_token,
    csrf_valid,
    derive_key,
    hash_password,
    new_session_id,
    password_needs_rehash,
    password_problems,
    verify_password,
)
from facedocket.errors import ConfigurationError, DecryptionFailed, InvalidInput, WeakPassword

KEY_1 = b"first photo key, thirty-two chars or more"
KEY_2 = b"second photo key, after the rotation, 2026"


# -- password policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short pass", "is shorter than 12 characters"),
        ("x" * 1025 + "y", "is longer than 1024 characters"),
        ("examiner.jones", "contains the username"),
        ("EXAMINER.JONES", "contains the username"),
        ("my examiner.jones pass", "contains the username"),
        ("aaaaaaaaaaaa", "is one string repeated"),
        ("passwordpassword", "is one string repeated"),
        ("abcabcabcabc", "is one string repeated"),
        ("123456789012", "is a run of keys, letters or digits"),
        ("qwertyuiopas", "is a run of keys, letters or digits"),
        ("lkjhgfdsapoi", "is a run of keys, letters or digits"),
        ("abcdefghijklmn", "is a run of keys, letters or digits"),
        ("password1234", "is a common password"),
        ("P@ssw0rd2024!", "is a common password"),
        ("Welcome12345", "is a common password"),
        ("!!iloveyou!!", "is a common password"),
        ("FaceDocket2026", "is a common password"),
    ],
)
def test_policy_refuses(password: str, problem: str) -> None:
    assert problem in password_problems(password, "examiner.jones")
    with pytest.raises(WeakPassword) as refused:
        check_password_policy(password, "examiner.jones")
    assert isinstance(refused.value, InvalidInput) and refused.value.status == 422
    assert problem in str(refused.value) and "\n" not in str(refused.value)
    assert {"rule": "password", "msg": f"it {problem}", "type": "password"} in refused.value.details


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Ear shape and scar, 2026",
        "tilleul-brouette-mistral",
        "ÉtéÀParis2026",
        "jo jo jo jo!",
    ],
)
def test_policy_accepts(password: str) -> None:
    assert password_problems(password, "jo") == []
    check_password_policy(password, "jo")


def test_every_problem_is_named_at_once() -> None:
    assert password_problems("admin", "admin") == [
        "is shorter than 12 characters",
        "contains the username",
        "is a common password",
    ]


def test_a_short_username_must_only_differ() -> None:
    assert password_problems("al", "al") == ["is shorter than 12 characters", "contains the username"]
    assert password_problems("al walks his dog", "al") == []


def test_length_counts_characters_after_normalisation() -> None:
    assert password_problems("ｆｕｌｌｗｉｄｔｈ１２") == password_problems("fullwidth12")  # NFKC
    assert "is shorter than 12 characters" not in password_problems("çàéèùôîêâëï!")


# -- hashing ------------------------------------------------------------------------------


def test_hash_verifies_the_password_and_nothing_else() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapl")
    assert not verify_password(stored, "")
    assert hash_password("correct horse battery staple") != stored  # salted
    assert not password_needs_rehash(stored)


def test_normalised_forms_of_one_password_verify() -> None:
    stored = hash_password("E\u0301te\u0301 a\u0300 Paris 2026")  # decomposed accents
    assert verify_password(stored, "Été à Paris 2026")  # precomposed


def test_weaker_parameters_need_a_rehash() -> None:
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery staple")
    assert verify_password(old, "correct horse battery staple")
    assert password_needs_rehash(old)


def test_unknown_user_and_bad_hash() -> None:
    assert verify_password(None, "anything at all, even right") is False
    with pytest.raises(ConfigurationError, match="not an argon2 hash"):
        verify_password("$2b$12$notargon", "correct horse battery staple")


# -- encryption at rest -------------------------------------------------------------------


def test_round_trip_and_header() -> None:
    cipher = AtRestCipher("photo", {1: KEY_1}, current=1)
    blob = cipher.encrypt(b"jpeg bytes", associated="subject-photo:7")
    assert blob[:5] == b"FDE\x01\x01" and len(blob) == HEADER_SIZE + len(b"jpeg bytes") + 16
    assert b"jpeg bytes" not in blob
    assert cipher.decrypt(blob, associated="subject-photo:7") == b"jpeg bytes"
    assert cipher.encrypt(b"jpeg bytes", associated="subject-photo:7") != blob  # fresh nonce
    assert cipher.decrypt(cipher.encrypt(b"")) == b""


def test_wrong_key_is_refused_as_a_configuration_error() -> None:
    blob = AtRestCipher("photo", {1: KEY_1}, current=1).encrypt(b"jpeg bytes")
    wrong = AtRestCipher("photo", {1: KEY_2}, current=1, hint="FACEDOCKET_PHOTO_KEY")
    with pytest.raises(ConfigurationError, match="photo key with id 1 is not the key this data was encrypted with"):
        wrong.decrypt(blob)
    with pytest.raises(ConfigurationError, match="FACEDOCKET_PHOTO_KEY"):
        wrong.decrypt(blob)


def test_missing_key_names_its_id() -> None:
    blob = AtRestCipher("photo", {1: KEY_1}, current=1).encrypt(b"jpeg bytes")
    later = AtRestCipher("photo", {2: KEY_2}, current=2, hint="FACEDOCKET_PHOTO_OLD_KEYS")
    with pytest.raises(
        ConfigurationError, match="key id 1, which is not configured; add that key to FACEDOCKET_PHOTO_OLD"
    ):
        later.decrypt(blob)
    with pytest.raises(ConfigurationError, match="no secret is configured"):
        AtRestCipher("photo", {1: b""}, current=1)
    with pytest.raises(ConfigurationError, match="current photo key id 3 has no key"):
        AtRestCipher("photo", {1: KEY_1}, current=3)


@pytest.mark.parametrize("where", [0, 3, 4, 5, 9, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 5, -1])
def test_tampered_ciphertext_is_refused(where: int) -> None:
    cipher = AtRestCipher("photo", {1: KEY_1, 2: KEY_2}, current=1)
    blob = bytearray(cipher.encrypt(b"jpeg bytes" * 10, associated="subject-photo:7"))
    blob[where] ^= 0x01
    with pytest.raises((DecryptionFailed, ConfigurationError)):
        cipher.decrypt(bytes(blob), associated="subject-photo:7")
    if where >= HEADER_SIZE - 12:  # nonce, ciphertext or tag: the integrity check catches it
        with pytest.raises(DecryptionFailed, match="failed its integrity check"):
            cipher.decrypt(bytes(blob), associated="subject-photo:7")


def test_truncated_moved_or_foreign_data_is_refused() -> None:
    cipher = AtRestCipher("photo", {1: KEY_1}, current=1)
    blob = cipher.encrypt(b"jpeg bytes", associated="subject-photo:7")
    with pytest.raises(DecryptionFailed, match="integrity check"):
        cipher.decrypt(blob[:-1], associated="subject-photo:7")
    with pytest.raises(DecryptionFailed, match="integrity check"):
        cipher.decrypt(blob, associated="subject-photo:8")  # another record's blob
    with pytest.raises(ConfigurationError, match="not the key"):  # each purpose has its own keys
        AtRestCipher("document", {1: KEY_1}, current=1).decrypt(blob, associated="subject-photo:7")
    with pytest.raises(DecryptionFailed, match="no FaceDocket header"):
        cipher.decrypt(b"\xff\xd8\xff\xe0 a plain jpeg, never encrypted" * 2)
    with pytest.raises(DecryptionFailed, match="format 9"):
        cipher.decrypt(blob[:3] + b"\x09" + blob[4:])


def test_purposes_derive_independent_keys() -> None:
    assert derive_key(KEY_1, "at-rest:photo") != derive_key(KEY_1, "at-rest:document")
    assert derive_key(KEY_1, "csrf") != derive_key(KEY_2, "csrf")
    assert len(derive_key(KEY_1, "csrf")) == 32


def test_rotation() -> None:
    before = AtRestCipher("photo", {1: KEY_1}, current=1)
    old_blob = before.encrypt(b"jpeg bytes", associated="subject-photo:7")

    after = AtRestCipher("photo", {1: KEY_1, 2: KEY_2}, current=2)
    assert after.decrypt(old_blob, associated="subject-photo:7") == b"jpeg bytes"  # old data still reads
    new_blob = after.encrypt(b"new jpeg")
    assert after.key_id(new_blob) == 2 and after.key_id(old_blob) == 1
    assert after.needs_rotation(old_blob) and not after.needs_rotation(new_blob)
    rotated = after.rotate(old_blob, associated="subject-photo:7")
    assert after.key_id(rotated) == 2 and not after.needs_rotation(rotated)

    retired = AtRestCipher("photo", {2: KEY_2}, current=2)  # the old key dropped after rotating
    assert retired.decrypt(rotated, associated="subject-photo:7") == b"jpeg bytes"
    with pytest.raises(ConfigurationError, match="key id 1"):
        retired.decrypt(old_blob, associated="subject-photo:7")
    with pytest.raises(DecryptionFailed):
        after.rotate(old_blob, associated="subject-photo:8")  # rotation checks integrity too


# -- CSRF ---------------------------------------------------------------------------------


def test_csrf_token_belongs_to_its_session_and_secret() -> None:
    session = new_session_id()
    token = csrf_token(KEY_1, session)
    assert csrf_valid(KEY_1, session, token)
    assert token == csrf_token(KEY_1, session) and len(token) == 43
    assert not csrf_valid(KEY_1, new_session_id(), token)  # another session
    assert not csrf_valid(KEY_2, session, token)  # another server secret
    assert not csrf_valid(KEY_1, session, token[:-1])
    assert not csrf_valid(KEY_1, session, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not csrf_valid(KEY_1, session, None)
    assert not csrf_valid(KEY_1, session, "")
    assert not csrf_valid(KEY_1, "", csrf_token(KEY_1, ""))
    assert not csrf_valid(KEY_1, session, "é" * 43)


def test_session_ids_are_random() -> None:
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 43 for i in ids)
