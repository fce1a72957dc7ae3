use super::*;

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    (Store::open(&url, 4).await.unwrap(), dir)
}

/// Opens a store on a new database of the server in `CCHUB_TEST_POSTGRES_URL`. Without that
/// variable the PostgreSQL cases are skipped, unless `CCHUB_TEST_REQUIRE_POSTGRES=1`
/// (set by scripts/test.sh) makes that a failure.
async fn postgres_store(test: &str) -> Option<Store> {
    let Ok(server) = std::env::var(scratch::POSTGRES_TEST_URL_VAR) else {
        assert!(
            std::env::var("CCHUB_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "CCHUB_TEST_POSTGRES_URL is not set but CCHUB_TEST_REQUIRE_POSTGRES=1"
        );
        eprintln!("skipping the PostgreSQL case of {test}: CCHUB_TEST_POSTGRES_URL is not set");
        return None;
    };
    let suffix = format!("store_{test}_{}_{}", std::process::id(), now_ms());
    let url = scratch::create_test_database(&server, &suffix).await.unwrap();
    Some(Store::open(&url, 4).await.unwrap())
}

/// Runs each named check once on SQLite and once on PostgreSQL, as `NAME::sqlite` and
/// `NAME::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = super::sqlite_store().await;
                super::$name(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(store) = super::postgres_store(stringify!($name)).await {
                    assert_eq!(store.backend(), super::Backend::Postgres);
                    super::$name(store).await;
                }
            }
        }
    )*};
}

on_both_databases!(users_round_trip, duplicate_user_is_a_conflict, disabling_bumps_token_version, refresh_tokens_rotate_once, expired_refresh_token_is_invalid, containers_upsert, audit_events_filter, usage_adds_up_per_day, settings_round_trip);

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        password_hash: "hash".into(),
        role,
        tier: "free".into(),
    }
}

async fn users_round_trip(store: Store) {
    let alice = store.create_user(&new_user("alice", Role::Admin)).await.unwrap();
    assert_eq!(alice.username.as_str(), "alice");
    assert_eq!(alice.role, Role::Admin);
    assert!(!alice.disabled);

    let by_name = store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(by_name, alice);
    let (_, hash) = store.credentials("alice").await.unwrap().unwrap();
    assert_eq!(hash, "hash");
    assert!(store.user_by_name("nobody").await.unwrap().is_none());
}

async fn duplicate_user_is_a_conflict(store: Store) {
    store.create_user(&new_user("bob", Role::User)).await.unwrap();
    let err = store.create_user(&new_user("bob", Role::User)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

async fn disabling_bumps_token_version(store: Store) {
    let user = store.create_user(&new_user("carol", Role::User)).await.unwrap();
    let disabled = store.set_disabled(user.id, true).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.token_version, user.token_version + 1);
    let enabled = store.set_disabled(user.id, false).await.unwrap();
    assert!(!enabled.disabled);
    let changed = store.set_password_hash(user.id, "new").await.unwrap();
    assert_eq!(changed.token_version, user.token_version + 3);
    assert!(matches!(store.set_tier(999, "pro").await, Err(StoreError::NotFound { .. })));
}

async fn refresh_tokens_rotate_once(store: Store) {
    let user = store.create_user(&new_user("dave", Role::User)).await.unwrap();
    let future = now_ms() + 60_000;
    store.insert_refresh_token(user.id, "h1", "fam", future).await.unwrap();

    let first = store.use_refresh_token("h1").await.unwrap();
    assert_eq!(first, RefreshOutcome::Rotated { user_id: user.id, family: "fam".into() });
    store.insert_refresh_token(user.id, "h2", "fam", future).await.unwrap();

    // Presenting h1 again is reuse: the whole family, h2 included, is revoked.
    assert_eq!(store.use_refresh_token("h1").await.unwrap(), RefreshOutcome::Reused { user_id: user.id });
    assert_eq!(store.use_refresh_token("h2").await.unwrap(), RefreshOutcome::Invalid);
    assert_eq!(store.use_refresh_token("unknown").await.unwrap(), RefreshOutcome::Invalid);
}

async fn expired_refresh_token_is_invalid(store: Store) {
    let user = store.create_user(&new_user("erin", Role::User)).await.unwrap();
    store.insert_refresh_token(user.id, "old", "f", now_ms() - 1).await.unwrap();
    assert_eq!(store.use_refresh_token("old").await.unwrap(), RefreshOutcome::Invalid);
}

async fn containers_upsert(store: Store) {
    let user = store.create_user(&new_user("frank", Role::User)).await.unwrap();
    store.upsert_container(user.id, "abc", "cchub-user-1", "h1", "running").await.unwrap();
    store.upsert_container(user.id, "def", "cchub-user-1", "h2", "created").await.unwrap();
    let record = store.container_for(user.id).await.unwrap().unwrap();
    assert_eq!(record.container_id, "def");
    assert_eq!(record.spec_hash, "h2");
    assert_eq!(store.list_containers().await.unwrap().len(), 1);
}

async fn audit_events_filter(store: Store) {
    for action in ["auth.login", "auth.login", "admin.user.create"] {
        store
            .record_audit(&AuditEvent {
                actor: Some("root".into()),
                action,
                outcome: "success",
                detail: Some(serde_json::json!({"k": 1})),
                ..AuditEvent::default()
            })
            .await
            .unwrap();
    }
    let logins = store
        .list_audit(&AuditFilter { action: Some("auth.login".into()), limit: 10, ..AuditFilter::default() })
        .await
        .unwrap();
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0].detail, Some(serde_json::json!({"k": 1})));
    let all = store.list_audit(&AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].action, "admin.user.create");

    // Time ranges select by the row's time; the purge removes what is older.
    let newest = all[0].at;
    let later = store.list_audit(&AuditFilter { since: Some(newest + 1), limit: 10, ..AuditFilter::default() }).await.unwrap();
    assert!(later.is_empty());
    let earlier = store.list_audit(&AuditFilter { until: Some(newest + 1), limit: 10, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(earlier.len(), 3);
    assert_eq!(store.purge_audit_before(newest + 1).await.unwrap(), 3);
    assert!(store.list_audit(&AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap().is_empty());
}

async fn usage_adds_up_per_day(store: Store) {
    let user = store.create_user(&new_user("gail", Role::User)).await.unwrap();
    let call = TokenUsage { requests: 1, input_tokens: 100, output_tokens: 20, cache_creation_tokens: 5, cache_read_tokens: 1 };
    store.add_usage(user.id, "2026-11-30", &call).await.unwrap();
    store.add_usage(user.id, "2026-12-01", &call).await.unwrap();
    store.add_usage(user.id, "2026-12-01", &call).await.unwrap();

    let month = store.usage_since(user.id, "2026-12-01").await.unwrap();
    assert_eq!(month.requests, 2);
    assert_eq!(month.input_tokens, 200);
    assert_eq!(month.total(), 252);
    let rows = store.usage_rows("2026-11-01").await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].day, "2026-12-01");
    assert_eq!(rows[0].username, "gail");
    assert_eq!(store.usage_since(999, "2026-01-01").await.unwrap(), TokenUsage::default());
}

async fn settings_round_trip(store: Store) {
    assert_eq!(store.setting("k").await.unwrap(), None);
    store.set_setting("k", "v1").await.unwrap();
    store.set_setting("k", "v2").await.unwrap();
    assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("v2"));
    assert!(store.delete_setting("k").await.unwrap());
    assert!(!store.delete_setting("k").await.unwrap());
}
