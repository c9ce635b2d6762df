"""The project's own benchmarks: speed, load, quality against public data sets and Rasa."""
