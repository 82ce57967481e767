"""nlp_coder: pre-code interview transcripts against a codebook, for human review."""

__version__ = "0.1.0"
