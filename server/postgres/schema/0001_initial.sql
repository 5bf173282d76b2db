CREATE TABLE migrations (
	name           TEXT PRIMARY KEY,
	description    TEXT NOT NULL,
	rollout        TEXT NOT NULL,
	version        BIGINT NOT NULL,
	gates          TEXT NOT NULL,
	guard          TEXT NOT NULL,
	full_since     BIGINT NOT NULL,
	evidence_since BIGINT NOT NULL,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL
);

CREATE TABLE changes (
	id           BIGSERIAL PRIMARY KEY,
	migration    TEXT NOT NULL,
	version      BIGINT NOT NULL,
	actor        TEXT NOT NULL,
	from_rollout TEXT NOT NULL,
	to_rollout   TEXT NOT NULL,
	reason       TEXT NOT NULL,
	forced       BIGINT NOT NULL,
	automatic    BIGINT NOT NULL,
	figures      TEXT NOT NULL,
	kind         TEXT NOT NULL,
	time         BIGINT NOT NULL
);
CREATE INDEX changes_by_migration ON changes (migration, id);

CREATE TABLE batches (
	batch_id    TEXT PRIMARY KEY,
	instance    TEXT NOT NULL,
	received_at BIGINT NOT NULL
);

CREATE TABLE buckets (
	migration    TEXT NOT NULL,
	minute       BIGINT NOT NULL,
	mode         BIGINT NOT NULL,
	c_match      BIGINT NOT NULL,
	c_mismatch   BIGINT NOT NULL,
	c_error      BIGINT NOT NULL,
	c_timeout    BIGINT NOT NULL,
	c_fallback   BIGINT NOT NULL,
	c_shed       BIGINT NOT NULL,
	c_divergence BIGINT NOT NULL,
	old_errors   BIGINT NOT NULL,
	new_errors   BIGINT NOT NULL,
	old_latency  BYTEA NOT NULL,
	new_latency  BYTEA NOT NULL,
	PRIMARY KEY (migration, minute, mode)
);

CREATE TABLE mismatch_groups (
	migration  TEXT NOT NULL,
	signature  TEXT NOT NULL,
	outcome    BIGINT NOT NULL,
	count      BIGINT NOT NULL,
	first_seen BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL,
	samples    TEXT NOT NULL,
	PRIMARY KEY (migration, signature, outcome)
);

CREATE TABLE verifications (
	id          BIGSERIAL PRIMARY KEY,
	migration   TEXT NOT NULL,
	finished_at BIGINT NOT NULL,
	report      TEXT NOT NULL
);
CREATE INDEX verifications_by_migration ON verifications (migration, finished_at);

CREATE TABLE tokens (
	hash       TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	scope      TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
