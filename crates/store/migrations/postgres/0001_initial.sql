-- Accounts, sessions, containers and the audit trail. Times are Unix milliseconds.
CREATE TABLE users (
    id                  BIGSERIAL PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,
    password_hash       TEXT    NOT NULL,
    role                TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    tier                TEXT    NOT NULL,
    disabled            BIGINT  NOT NULL DEFAULT 0,
    -- Bumped on password change, disable and role change; access tokens carry it.
    token_version       BIGINT  NOT NULL DEFAULT 0,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

CREATE TABLE refresh_tokens (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    -- Every token rotated from one login shares a family; reuse of a rotated token
    -- revokes the whole family.
    family      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE containers (
    user_id       BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    container_id  TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    spec_hash     TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor_id    BIGINT,
    actor       TEXT,
    action      TEXT    NOT NULL,
    target      TEXT,
    outcome     TEXT    NOT NULL,
    ip          TEXT,
    detail      TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_action ON audit_events (action, at);
