"""The errors of the age package (C2SP age; CCTV outcome classes in the docstrings)."""

from __future__ import annotations


class AgeError(Exception):
    """Base class of every age error."""


class HeaderError(AgeError):
    """The header is malformed or invalid (CCTV "header failure")."""


class MacError(HeaderError):
    """The header MAC does not verify (CCTV "HMAC failure")."""


class UnsupportedRecipientError(HeaderError):
    """The file (or key) uses a recipient type this implementation does not support."""


class NoIdentityMatchError(AgeError):
    """No identity could unwrap the file key (CCTV "no match")."""


class PayloadError(AgeError):
    """The STREAM payload failed: bad tag, truncation, trailing data, bad final chunk."""


class ArmorError(AgeError):
    """The ASCII armor is malformed (CCTV "armor failure")."""


class KeyFormatError(AgeError, ValueError):
    """A recipient, identity or identity file cannot be parsed."""
