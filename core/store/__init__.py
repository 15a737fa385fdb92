"""Beneath the use cases: the containers Loupe keeps (`collections`), reading documents into
their models (`documents`), the one write path (`update`), and the repositories that name
each aggregate's queries beside the indexes they need. Nothing here imports a use case."""
