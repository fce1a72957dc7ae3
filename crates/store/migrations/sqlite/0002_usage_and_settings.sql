-- Model usage per user and UTC day, as the gateway metered it.
CREATE TABLE usage_daily (
    user_id                BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day                    TEXT    NOT NULL,
    requests               BIGINT  NOT NULL DEFAULT 0,
    input_tokens           BIGINT  NOT NULL DEFAULT 0,
    output_tokens          BIGINT  NOT NULL DEFAULT 0,
    cache_creation_tokens  BIGINT  NOT NULL DEFAULT 0,
    cache_read_tokens      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

-- Hub settings changed at run time, such as the encrypted organisation key.
CREATE TABLE settings (
    name        TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);
