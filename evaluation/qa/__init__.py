"""The QA product: conversation tests, the Rasa import, NLU and retrieval reports."""
