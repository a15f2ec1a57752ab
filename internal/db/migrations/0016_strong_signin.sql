-- Strong sign-in: second factors, single sign-on and break-glass access.

-- Which factors a session was opened with ("password totp", "oidc"…),
-- when its holder last proved themselves with their strongest factor (for
-- step-up), and whether it still waits for the second factor (a pending
-- session opens nothing but the page that asks for it) or must first set
-- one up (its role requires one and the account has none). id_token is the
-- identity provider's token of a single sign-on session, for sign-out.
ALTER TABLE sessions ADD COLUMN factors TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN verified_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN enrol BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN id_token TEXT NOT NULL DEFAULT '';

-- An authenticator app's secret (RFC 6238). confirmed is false between
-- the QR code being shown and the first right code; last_step is the time
-- step of the last code accepted, so that no code counts twice.
CREATE TABLE totp_secrets (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    confirmed  BOOLEAN NOT NULL DEFAULT FALSE,
    last_step  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Passkeys and security keys (WebAuthn): the public key and what the
-- library keeps of the credential, as JSON.
CREATE TABLE webauthn_credentials (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE, -- base64url
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- A WebAuthn ceremony under way (the challenge), for the session that
-- started it, on whichever node finishes it.
CREATE TABLE webauthn_ceremonies (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL, -- register or login
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, kind)
);

-- Single-use recovery codes, stored as SHA-256.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Which roles must use a second factor, as administrators set it. A role
-- without a row takes the default (required outside --demo).
CREATE TABLE mfa_requirements (
    role       TEXT PRIMARY KEY,
    required   BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- Single sign-on: the account an identity provider's subject signs in to,
-- and the sign-ins under way (state, PKCE verifier and nonce), kept in the
-- database so that any node can finish what another began.
CREATE TABLE user_identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    verifier   TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    next       TEXT NOT NULL DEFAULT '/',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Break-glass: a user who opened a case outside their need-to-know, with
-- the reason they gave, until when.
CREATE TABLE case_break_glass (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id),
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX case_break_glass_case ON case_break_glass (case_id, expires_at);
CREATE INDEX case_break_glass_user ON case_break_glass (user_id, expires_at);
