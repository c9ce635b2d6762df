"""Write a new migration from the difference between the models and the newest migration.

Usage: ``python -m bot.storage.revision 0004_name "what changed"`` (a developer tool).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.storage.db import MIGRATIONS, Database


def main(message: str, rev_id: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        database.migrate()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit('usage: python -m bot.storage.revision REVISION_ID "what changed"')
    main(" ".join(sys.argv[2:]), rev_id=sys.argv[1])
