"""The signing key of the audit trail and the evidence, kept outside the store.

``stresslab keys init`` creates an Ed25519 key pair (RFC 8032, through the ``cryptography``
library) in the *key directory*: ``$STRESSLAB_KEYS`` if set, else ``$XDG_CONFIG_HOME/stresslab/keys``
(``~/.config/stresslab/keys``). The directory is created 0700 and the private key written 0600;
a private key readable by group or others is refused, as OpenSSH refuses one.

Files in the key directory:

* ``audit_ed25519`` -- the private key, PKCS #8 PEM, unencrypted;
* ``audit_ed25519.pub`` -- the public key, SubjectPublicKeyInfo PEM (give it to whoever verifies
  exported evidence elsewhere);
* ``checkpoints/<store_id>.json`` -- the last signed head of each store's audit chain
  (:func:`write_checkpoint`), so a chain wiped or cut short inside the store is caught even when
  the head inside the store was rolled back with it.

Signatures are hex Ed25519 signatures over bytes the caller chooses (always canonical JSON,
:func:`engine.canonical.canonical_bytes`). The key id is the first 16 hex digits of the SHA-256 of
the raw 32-byte public key.

What the key protects against is stated in the README ("Security"): someone who can write the
store but not the key directory cannot forge or cut the trail unseen; someone who holds both can.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.canonical import canonical_bytes
from engine.errors import InputError

__all__ = [
    "ALGORITHM",
    "PRIVATE_NAME",
    "PUBLIC_NAME",
    "Checkpoint",
    "SigningKey",
    "VerifyKey",
    "init_keys",
    "keys_dir",
    "load_checkpoint",
    "load_signing_key",
    "load_verify_key",
    "read_checkpoint",
    "read_checkpoints",
    "resolve_verify_key",
    "write_checkpoint",
]

ALGORITHM = "ed25519"
PRIVATE_NAME = "audit_ed25519"
PUBLIC_NAME = "audit_ed25519.pub"
_CHECKPOINTS = "checkpoints"


def keys_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The key directory: ``directory``, else ``$STRESSLAB_KEYS``, else the user's config dir."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get("STRESSLAB_KEYS")
    if env:
        return Path(env)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "stresslab" / "keys"


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class VerifyKey:
    """A public key that checks signatures."""

    public: Ed25519PublicKey
    path: Path

    @property
    def key_id(self) -> str:
        """First 16 hex digits of the SHA-256 of the raw public key."""
        return _key_id(self.public)

    def verify(self, data: bytes, signature: str) -> bool:
        """Whether ``signature`` (hex) is this key's Ed25519 signature of ``data``."""
        try:
            self.public.verify(bytes.fromhex(signature), data)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey(VerifyKey):
    """A private key that signs, with its public half."""

    private: Ed25519PrivateKey

    def sign(self, data: bytes) -> str:
        """Hex Ed25519 signature (64 bytes, 128 hex digits) of ``data``."""
        return self.private.sign(data).hex()

    def sign_obj(self, obj: Any) -> str:
        """Signature of the canonical JSON bytes of ``obj``."""
        return self.sign(canonical_bytes(obj))


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)


def init_keys(directory: str | os.PathLike[str] | None = None, *, force: bool = False) -> SigningKey:
    """Create the key pair in the key directory and return it.

    Parameters
    ----------
    directory : path, optional
        Default :func:`keys_dir`.
    force : bool
        Replace an existing pair. Evidence signed with the old key no longer verifies against
        the new one, so this is refused unless asked for.

    Raises
    ------
    InputError
        If a key pair already exists and ``force`` is false, or the directory cannot be written.
    """
    folder = keys_dir(directory)
    private_path, public_path = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    if private_path.exists() and not force:
        raise InputError(f"a signing key already exists in {folder}; keep it (evidence signed with "
                         "it verifies only against it) or pass --force to replace it")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        (folder / _CHECKPOINTS).mkdir(exist_ok=True, mode=0o700)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        for p in (private_path, public_path):
            p.unlink(missing_ok=True)
        _write_private(private_path, pem)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        raise InputError(f"cannot create keys in {folder}: {exc}; set STRESSLAB_KEYS to a "
                         "writable directory") from exc
    return SigningKey(public=private.public_key(), path=private_path, private=private)


#: The signing key last loaded, keyed by its file's path, inode, size and mtime, so that every
#: append of a process does not parse the PEM again (a replaced key file is read again).
_SIGNING_CACHE: dict[tuple[str, int, int, int], SigningKey] = {}
_CACHE_LOCK = threading.Lock()


def load_signing_key(directory: str | os.PathLike[str] | None = None) -> SigningKey | None:
    """The private key of the key directory, or ``None`` if none was created (trail unsigned).

    The parsed key is cached per process by the file's path, inode, size and modification
    time; the file's permissions are checked on every call.

    Raises
    ------
    InputError
        If the key file is readable by group or others (mode must be 0600 or stricter), or is
        not an Ed25519 PEM private key.
    """
    path = keys_dir(directory) / PRIVATE_NAME
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise InputError(f"the signing key {path} has permissions {mode:04o}; it must be readable "
                         f"by its owner only: chmod 600 {path}")
    cache_key = (str(path.absolute()), st.st_ino, st.st_size, st.st_mtime_ns)
    with _CACHE_LOCK:
        cached = _SIGNING_CACHE.get(cache_key)
    if cached is not None:
        return cached
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a PEM private key ({exc}); recreate it with "
                         "`stresslab keys init --force`") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise InputError(f"{path} is not an Ed25519 key; recreate it with `stresslab keys init --force`")
    key = SigningKey(public=private.public_key(), path=path, private=private)
    with _CACHE_LOCK:
        _SIGNING_CACHE.clear()  # one key per process: the last one loaded
        _SIGNING_CACHE[cache_key] = key
    return key


def load_verify_key(source: str | os.PathLike[str] | None = None) -> VerifyKey | None:
    """A public key: a ``.pub`` PEM file, or the key directory's (``None`` if there is none).

    Raises
    ------
    InputError
        If the file is not an Ed25519 public key in PEM.
    """
    path = Path(source) if source is not None and Path(source).is_file() else keys_dir(source) / PUBLIC_NAME
    if not path.is_file():
        return None
    try:
        public = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a PEM public key ({exc})") from exc
    if not isinstance(public, Ed25519PublicKey):
        raise InputError(f"{path} is not an Ed25519 public key")
    return VerifyKey(public=public, path=path)


def resolve_verify_key(public_key: str | os.PathLike[str] | None = None) -> VerifyKey | None:
    """The key that checks signatures, the same for the trail and the evidence.

    ``public_key`` when given (a ``.pub`` PEM file or a key directory; it must hold one); else
    the key directory's public key, or its private key's public half when the ``.pub`` file is
    gone; ``None`` when the key directory holds no key (everything is unsigned).

    Raises
    ------
    InputError
        If ``public_key`` is given but holds no public key, or a key file is unreadable.
    """
    if public_key is None:
        return load_verify_key() or load_signing_key()
    if not Path(public_key).exists():
        raise InputError(f"no public key file at {str(public_key)!r}: it does not exist; pass the "
                         "signer's audit_ed25519.pub (or the key directory that holds it)")
    key = load_verify_key(public_key)
    if key is None:
        raise InputError(f"no public key file in {str(public_key)!r}: pass the signer's "
                         "audit_ed25519.pub (or the key directory that holds it)")
    return key


@dataclass(frozen=True)
class Checkpoint:
    """The last head of one store's chain, signed, as kept in the key directory."""

    store_id: str
    db_path: str
    seq: int
    head_hash: str
    key_id: str
    signature: str

    def body(self) -> dict[str, Any]:
        """What the signature covers."""
        return {"store_id": self.store_id, "db_path": self.db_path, "seq": self.seq,
                "head_hash": self.head_hash, "key_id": self.key_id}

    def verified_by(self, key: VerifyKey) -> bool:
        """Whether the checkpoint's signature checks out under ``key``."""
        return key.verify(canonical_bytes(self.body()), self.signature)


def _checkpoint_path(store_id: str, directory: str | os.PathLike[str] | None) -> Path:
    if not store_id or not all(c.isalnum() or c in "-_" for c in store_id):
        raise InputError(f"store id {store_id!r} is not a plain identifier")
    return keys_dir(directory) / _CHECKPOINTS / f"{store_id}.json"


def write_checkpoint(
    key: SigningKey,
    *,
    store_id: str,
    db_path: str,
    seq: int,
    head_hash: str,
    directory: str | os.PathLike[str] | None = None,
) -> Checkpoint:
    """Sign and write a store's chain head to ``checkpoints/<store_id>.json`` (atomic replace).

    The caller holds the store's write lock, so appends to one store write checkpoints in order.
    """
    body = {"store_id": store_id, "db_path": db_path, "seq": int(seq), "head_hash": head_hash,
            "key_id": key.key_id}
    point = Checkpoint(**body, signature=key.sign_obj(body))
    path = _checkpoint_path(store_id, directory)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**point.body(), "signature": point.signature}, indent=2) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)
    return point


def _parse_checkpoint(path: Path) -> Checkpoint:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Checkpoint(store_id=str(raw["store_id"]), db_path=str(raw["db_path"]),
                          seq=int(raw["seq"]), head_hash=str(raw["head_hash"]),
                          key_id=str(raw["key_id"]), signature=str(raw["signature"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the checkpoint {path} is unreadable ({exc}); it was damaged or "
                         "edited") from exc


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """A checkpoint file kept elsewhere (a copy exported off the machine), to verify against.

    Raises
    ------
    InputError
        If there is no such file, or it is not a checkpoint.
    """
    if not Path(path).is_file():
        raise InputError(f"no checkpoint file at {path}: pass a copy of "
                         "checkpoints/<store_id>.json from the key directory")
    return _parse_checkpoint(Path(path))


def read_checkpoint(store_id: str, *, directory: str | os.PathLike[str] | None = None) -> Checkpoint | None:
    """The checkpoint kept for a store, or ``None`` if none was written."""
    path = _checkpoint_path(store_id, directory)
    return _parse_checkpoint(path) if path.is_file() else None


def read_checkpoints(directory: str | os.PathLike[str] | None = None) -> list[Checkpoint]:
    """Every checkpoint in the key directory (to find one written for the same file path)."""
    folder = keys_dir(directory) / _CHECKPOINTS
    if not folder.is_dir():
        return []
    return [_parse_checkpoint(p) for p in sorted(folder.glob("*.json"))]
