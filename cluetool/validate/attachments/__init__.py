"""Attachment validation: by content, never by name alone (schemas/report.schema.json).

For each attachment declared in ``report.json`` the declared type, the file extension
and the type sniffed by libmagic must agree; the structure of the file must hold; the
declared size and SHA-256 must match; per-type, count and per-submission limits apply.
Each file is read exactly once: one pass feeds the hash, the structural state machine,
the embedded-archive scan and the bytes kept for sniffing. Memory is bounded whatever
the file size (segment headers, at most 64 KiB of a JPEG SOF/SOS header, 8 KiB kept for
libmagic). Attachments are evidence: nothing is ever modified.

Finding codes (stable API; ``path`` is the JSON path of the declaration's field, except
for ``attachment.undeclared`` whose path is the file name in the submission directory):

===============================  ===============================  =======================
code                             meaning                          path
===============================  ===============================  =======================
attachment.name_invalid          not a plain file name: empty,    attachments[i].file
                                 ``/``, ``\\``, ``..``, NUL, a
                                 control, bidi, zero-width or
                                 other invisible character, leading
                                 ``.``, ``report.json``, over 255
                                 UTF-8 bytes
attachment.duplicate             the same file declared twice     attachments[i].file
attachment.type_invalid          declared type not jpg/mp3/mp4    attachments[i].type
attachment.extension_mismatch    extension does not fit the type  attachments[i].file
attachment.missing               declared file does not exist     attachments[i].file
attachment.not_regular           symlink, directory, device,      attachments[i].file
                                 FIFO, socket
attachment.unreadable            open/read failed otherwise       attachments[i].file
attachment.too_large             over the per-type size limit     attachments[i].file
attachment.empty                 zero bytes                       attachments[i].file
attachment.type_mismatch         sniffed MIME not accepted for    attachments[i].file
                                 the declared type
attachment.structure             the bytes are not a well-formed  attachments[i].file
                                 file of the declared type (bad
                                 signature, marker, segment
                                 length, frame header, box size)
attachment.truncated             the file ends inside a segment,  attachments[i].file
                                 frame or box, or before EOI
attachment.trailing_data         bytes after the JPEG EOI marker  attachments[i].file
                                 or after a trailing ID3v1 tag
attachment.embedded_archive      a ZIP, RAR, 7z, gzip, bzip2 or   attachments[i].file
                                 xz signature in an opaque
                                 region, or a plausible ZIP
                                 record anywhere in the file
attachment.embedded_document     a PDF, HTML/script or OLE        attachments[i].file
                                 signature in an opaque region
attachment.embedded_executable   an ELF, PE, Mach-O or ``#!``     attachments[i].file
                                 signature in an opaque region
attachment.dimensions            a JPEG frame or MP4 track over   attachments[i].file
                                 ``limits.image_pixels``
attachment.duration              an MP4 longer than               attachments[i].file
                                 ``limits.duration`` seconds
attachment.size_mismatch         declared size differs            attachments[i].size
attachment.sha256_mismatch       declared SHA-256 differs         attachments[i].sha256
attachment.too_many              more declared than limits.files  attachments
attachment.submission_too_large  sum of sizes over                attachments
                                 limits.submission
attachment.undeclared            a file or directory in the       <file name>
                                 submission that report.json does
                                 not declare (hidden files too)
metadata.gps, metadata.device,   warnings: identifying metadata   attachments[i].file
metadata.serial, metadata.owner, (EXIF, MP4 udta/meta, ID3
metadata.location,               personal frames); never fail a
metadata.personal                submission (``exif``, ``mp3``,
                                 ``mp4``)
===============================  ===============================  =======================

Decisions where the spec is silent (the per-format ones are in the docstrings of
``sniffing``, ``scan``, ``jpeg``, ``mp3`` and ``mp4``):

- **Limits**: a file over its type's limit is not read (``attachment.too_large``; a
  file that grows past it while being read stops the hashing). Once the running total
  of file sizes passes ``limits.submission`` (one ``attachment.submission_too_large``),
  that file and the later ones are not read, so no more than the budget is ever read;
  their name, type, extension and file-type checks still run. ``limits.files`` counts
  declarations.
- **Names**: ``..`` is refused anywhere in a name (not only as a component), and
  ``report.json`` case-insensitively. Names are shown JSON-quoted in messages, so a
  control character cannot break a line.
- A consequence of "no data after EOI": phone photos that carry CIPA DC-007 MPF
  secondary images or a "motion photo" video after the first EOI are refused
  (``attachment.trailing_data``).

``attachments`` above stands for the ``path_prefix`` argument.

Hard links are not flagged: the intake may deduplicate with them, and the name cannot
leave the directory (no separators, opened relative to the directory, ``O_NOFOLLOW``).
"""
from __future__ import annotations

from cluetool.validate.attachments.check import check_attachments, judge_stream, metadata_warnings
from cluetool.validate.attachments.common import ACCEPTED_MIME, EXTENSIONS, TYPES, AttachmentDecl
from cluetool.validate.attachments.sniffing import sniff
from cluetool.validate.attachments.stream import AttachmentStream

__all__ = [
    "ACCEPTED_MIME",
    "EXTENSIONS",
    "TYPES",
    "AttachmentDecl",
    "AttachmentStream",
    "check_attachments",
    "judge_stream",
    "metadata_warnings",
    "sniff",
]
