"""Analyses built on coded fragments: candidate themes (:mod:`.discover`), category boundaries
(:mod:`.sensitivity`), checks of human coding (:mod:`.audit`), agreement (:mod:`.agree`), samples
for a second coder (:mod:`.sample`) and agreement with gold coding (:mod:`.evaluate`, whose
scoring methods are in :mod:`.methods`)."""
