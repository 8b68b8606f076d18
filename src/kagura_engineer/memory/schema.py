"""The local store's schema: its version and the statements that bring a database to it."""

SCHEMA_VERSION = 3

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        """CREATE TABLE memories (
            n INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            external_id TEXT UNIQUE,
            summary TEXT NOT NULL,
            content TEXT NOT NULL,
            type TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            importance REAL NOT NULL DEFAULT 0.5 CHECK (importance BETWEEN 0 AND 1),
            details TEXT,
            created_at TEXT NOT NULL,
            created_ts REAL NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX memories_type ON memories(type)",
        "CREATE INDEX memories_created ON memories(created_ts, n)",
        """CREATE VIRTUAL TABLE memories_fts USING fts5(
            summary, content, tags, content='memories', content_rowid='n',
            tokenize='porter unicode61')""",
        """CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
            INSERT INTO memories_fts(rowid, summary, content, tags)
            VALUES (new.n, new.summary, new.content, new.tags);
        END""",
        """CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
            INSERT INTO memories_fts(memories_fts, rowid, summary, content, tags)
            VALUES ('delete', old.n, old.summary, old.content, old.tags);
        END""",
        """CREATE TRIGGER memories_au AFTER UPDATE OF summary, content, tags ON memories BEGIN
            INSERT INTO memories_fts(memories_fts, rowid, summary, content, tags)
            VALUES ('delete', old.n, old.summary, old.content, old.tags);
            INSERT INTO memories_fts(rowid, summary, content, tags)
            VALUES (new.n, new.summary, new.content, new.tags);
        END""",
        """CREATE TABLE edges (
            src TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            dst TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            edge_type TEXT NOT NULL,
            weight REAL NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (src, dst)
        )""",
        "CREATE INDEX edges_dst ON edges(dst)",
        """CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            expires_at REAL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE VIEW savepoints AS
            SELECT substr(key, 11) AS key, value, updated_at FROM state
            WHERE substr(key, 1, 10) = 'savepoint:'""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            op TEXT NOT NULL,
            payload TEXT NOT NULL,
            external_id TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ),
    2: (
        # The hash and version columns come before the blob: SQLite reads a row's columns in
        # order, so scans that test them never wade through 1.5 KB of vector.
        "ALTER TABLE memories ADD COLUMN embed_hash TEXT",
        "ALTER TABLE memories ADD COLUMN vec_seq INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE memories ADD COLUMN embedding BLOB",
        "CREATE INDEX memories_embed ON memories(embed_hash, n)",
        "CREATE INDEX memories_vec_seq ON memories(vec_seq)",
        """CREATE TABLE embed_models (
            hash TEXT PRIMARY KEY,
            model_id TEXT NOT NULL,
            dim INTEGER NOT NULL
        )""",
        """CREATE TABLE vector_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            store_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            deletes INTEGER NOT NULL
        )""",
        "INSERT INTO vector_state (id, store_id, version, deletes) VALUES (1, lower(hex(randomblob(16))), 0, 0)",
        """CREATE TRIGGER memories_vec_ad AFTER DELETE ON memories WHEN old.embedding IS NOT NULL BEGIN
            UPDATE vector_state SET version = version + 1, deletes = deletes + 1 WHERE id = 1;
        END""",
    ),
    3: (
        # `memory import`'s "already stored?" (same type and content): the type and a prefix of
        # the content. Part of the schema, so a restored DB's exact-schema check knows it.
        "CREATE INDEX memories_dedupe ON memories(type, length(content), substr(content, 1, 64))",
    ),
}
