"""Decoding and rendering: Pillow for images, pydicom for DICOM, readers for text files.

Pure functions over bytes: no blob store, no documents. Bad input raises `MediaError` with a
reason a person can act on; the ingestion services record it on the item."""
