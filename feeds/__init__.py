"""Fetching and parsing external sources (arXiv, Hugging Face Papers, job listings)."""
