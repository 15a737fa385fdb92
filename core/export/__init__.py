"""Export formats: one module per format, each a streaming writer over item records (and a
reader for the formats Loupe imports). Pure: no I/O beyond the streams they are given."""
