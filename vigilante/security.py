"""Password hashing and JWT access tokens, nothing else.

Passwords use pwdlib with Argon2id; bcrypt (``$2b$``) hashes from the original passlib design
still verify and are upgraded to Argon2id on the next login. passlib is not used: it is
unmaintained and fails on every hash with bcrypt 5.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import bcrypt
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from vigilante.config import Settings

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32
BCRYPT_MAX_BYTES = 72
MAX_ID = 2**63 - 1
_PLACEHOLDERS = {"changeme", "change-me", "changethis", "secret", "your-secret-key"}

password_hash = PasswordHash((Argon2Hasher(), BcryptHasher()))
# Verified when the user does not exist, so timing does not reveal who has an account.
DUMMY_HASH = password_hash.hash(secrets.token_urlsafe(16))


class InsecureSecretKey(RuntimeError):
    pass


def load_secret_key(settings: Settings) -> bytes:
    """The signing key: from settings, else generated once and kept in the data folder (0600)."""
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value().encode()
        if key.decode().lower() in _PLACEHOLDERS or len(key) < MIN_KEY_BYTES:
            raise InsecureSecretKey(
                f"VIGILANTE_SECRET_KEY must be at least {MIN_KEY_BYTES} bytes and not a "
                "placeholder; generate one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'"
            )
        return key
    path = Path(settings.data_dir) / "secret_key"
    if path.exists():
        key = path.read_bytes().strip()
        if len(key) >= MIN_KEY_BYTES:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_urlsafe(48).encode())
    try:
        # Several workers starting on a fresh folder race here: the first link wins and every
        # worker reads the winner, so tokens signed by one are accepted by all.
        if path.exists():
            os.replace(tmp, path)  # an unusable (short) key
        else:
            os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; returns (ok, new_hash) where new_hash replaces an outdated hash."""
    if stored_hash is None:
        password_hash.verify(password, DUMMY_HASH)
        return False, None
    raw = password.encode("utf-8", "surrogatepass")
    if stored_hash.startswith("$2"):
        # bcrypt only ever saw the first 72 bytes (passlib truncated; bcrypt 5 raises instead),
        # even when the cut falls inside a multi-byte character: compare exactly those bytes.
        try:
            ok = bcrypt.checkpw(raw[:BCRYPT_MAX_BYTES], stored_hash.encode())
        except ValueError:  # a malformed stored hash
            return False, None
        return ok, (password_hash.hash(password) if ok else None)
    try:
        return password_hash.verify_and_update(raw, stored_hash)
    except Exception:
        return False, None


def password_problem(password: str, username: str, settings: Settings) -> str | None:
    """Why a new password is refused, or None."""
    if len(password.encode()) > settings.password_max_bytes:
        return f"must be at most {settings.password_max_bytes} bytes"
    if len(password) < settings.password_min_length:
        return f"must have at least {settings.password_min_length} characters"
    if len(set(password)) < 4:
        return "is too simple: use more different characters"
    if password.casefold() == username.casefold() or username.casefold() in password.casefold():
        return "must not contain the username"
    folded = password.casefold()
    stem = folded.rstrip(_TRAILERS)
    if folded in _COMMON or (stem and stem in _COMMON_STEMS):
        return "is one of the most common passwords"
    return None


# "password123", "senha2024!", "admin@1": a common word with digits or a symbol tacked on is
# what guessing tools try right after the bare word.
_TRAILERS = "0123456789!@#$%&*._-"
_COMMON_STEMS = {
    "password",
    "passw0rd",
    "p@ssw0rd",
    "senha",
    "minhasenha",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "admin",
    "administrator",
    "brasil",
    "brazil",
    "iloveyou",
    "letmein",
    "welcome",
    "mudar",
    "abc",
    "abcdef",
    "teste",
    "test",
    "login",
}


_COMMON = {
    "password",
    "password1",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "senha123",
    "senha1234",
    "abcd1234",
    "11111111",
    "brasil123",
    "admin123",
    "letmein1",
    "welcome1",
    "passw0rd",
    "p@ssw0rd",
    "minhasenha",
    "123mudar",
    "mudar123",
}


def create_access_token(user_id: int, key: bytes, minutes: int) -> tuple[str, int]:
    now = int(time.time())
    expires_in = minutes * 60
    payload = {"sub": str(user_id), "iat": now, "exp": now + expires_in}
    return jwt.encode(payload, key, algorithm=ALGORITHM), expires_in


def decode_access_token(token: str, key: bytes) -> int | None:
    """The user id in a valid token, or None for anything expired, forged or malformed."""
    claims = _verified_claims(token, key)
    return claims[0] if claims is not None else None


def _verified_claims(token: str, key: bytes) -> tuple[int, int] | None:
    """(user id, expiry in epoch seconds) of a valid token, or None."""
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "iat"], "enforce_minimum_key_length": True},
        )
        user_id = int(payload["sub"])
        expires = int(payload["exp"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    # A signed but absurd id (2**70) must not reach the database: SQLite would overflow.
    return (user_id, expires) if 1 <= user_id <= MAX_ID else None


def expired_token(token: str, key: bytes) -> bool:
    """Whether ``token`` is one of ours (its signature checks out) whose time is up."""
    try:
        jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        return True
    except (jwt.PyJWTError, ValueError, TypeError):
        return False
    return False


class VerifiedTokens:
    """Tokens whose signature was already checked, kept with their expiry.

    Verifying an HS256 token (HMAC, base64, JSON) costs ~50 µs, a fifth of an ingest request;
    a client sends the same token for its whole life, so a repeat costs a dict lookup. The
    expiry is still checked on every use; only valid tokens are kept, at most ``size``.
    """

    def __init__(self, key: bytes, size: int = 4096):
        self._key = key
        self._size = size
        self._seen: dict[str, tuple[int, int]] = {}

    def expired(self, token: str) -> bool:
        """For the 401's words only (a refused token costs a second decode)."""
        return expired_token(token, self._key)

    def user_id(self, token: str) -> int | None:
        claims = self._seen.get(token)
        if claims is None:
            claims = _verified_claims(token, self._key)
            if claims is None:
                return None
            if len(self._seen) >= self._size:
                self._seen.pop(next(iter(self._seen)))  # the oldest kept
            self._seen[token] = claims
        user_id, expires = claims
        if time.time() >= expires:  # PyJWT's rule: expired once exp <= now
            self._seen.pop(token, None)
            return None
        return user_id
