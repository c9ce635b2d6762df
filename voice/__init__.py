"""Speech for the phone line: audio codecs, recognition (pocketsphinx, vosk) and synthesis.

This package imports nothing else of the project, so it can be tested and reused alone.
"""
