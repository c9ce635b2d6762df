"""Storage: SQLAlchemy 2 models and the database handle (SQLite by default, PostgreSQL by URL)."""
