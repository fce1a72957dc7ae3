//! Metering, budgets and the organisation key set through the admin API.

use cchub_e2e::{chat, postgres_backend, HubOptions, TestHub, TEST_KEY};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_matches_what_the_model_reported() {
    let hub = TestHub::start().await.unwrap();
    let ivo = hub.create_user("ivo").await.unwrap();
    let messages = chat(&hub, &ivo, "[[bash: echo metered]] [[text: done]]").await.unwrap();
    assert_eq!(messages.last().unwrap()["exit_code"], 0);

    let reported = hub.mock.as_ref().unwrap().reported_usage();
    let input: u64 = reported.iter().map(|(i, _)| i).sum();
    let output: u64 = reported.iter().map(|(_, o)| o).sum();
    // Recording happens as each response body ends; allow it a moment.
    let mut body = json!(null);
    for _ in 0..50 {
        let (_, value) = hub.request(Method::GET, "/api/workspace", Some(&ivo.access), None).await.unwrap();
        body = value;
        if body["usage"]["detail"]["requests"].as_u64() == Some(reported.len() as u64) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let detail = &body["usage"]["detail"];
    assert_eq!(detail["requests"], reported.len() as u64, "{body}");
    assert_eq!(detail["input_tokens"], input, "{body}");
    assert_eq!(detail["output_tokens"], output, "{body}");
    assert_eq!(body["usage"]["tokens"], input + output);
    assert_eq!(body["usage"]["budget_tokens"], 2_000_000);

    let (status, usage) = hub.request(Method::GET, "/api/admin/usage?days=7", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let row = usage["rows"].as_array().unwrap().iter().find(|r| r["username"] == "ivo").unwrap().clone();
    assert_eq!(row["input_tokens"], input);
    assert_eq!(row["output_tokens"], output);
    let (status, _) = hub.request(Method::GET, "/api/admin/usage?days=0", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = hub.request(Method::GET, "/api/admin/usage", Some(&ivo.access), None).await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_budget_is_a_clear_error_for_that_user_only() {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("resources:\n  tiers:\n    free: { monthly_tokens: 100 }\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let jo = hub.create_user("jo").await.unwrap();
    let kai = hub.create_user("kai").await.unwrap();
    hub.request(Method::PATCH, &format!("/api/admin/users/{}", kai.user_id), Some(&hub.admin.access), Some(json!({"tier": "pro"})))
        .await
        .unwrap();

    // The first prompt is admitted with nothing used and spends far more than 100 tokens.
    let first = chat(&hub, &jo, "[[text: first]]").await.unwrap();
    assert_eq!(first.last().unwrap()["exit_code"], 0, "{first:?}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let before = hub.mock.as_ref().unwrap().requests().len();
    let second = chat(&hub, &jo, "[[text: second]]").await.unwrap();
    let error = second.iter().find(|m| m["type"] == "error").unwrap_or_else(|| panic!("{second:?}"));
    assert_eq!(error["code"], "model_error", "{error}");
    assert!(error["message"].as_str().unwrap().contains("budget"), "{error}");
    assert_eq!(hub.mock.as_ref().unwrap().requests().len(), before, "a refused call never reaches the model");

    let other = chat(&hub, &kai, "[[text: unaffected]]").await.unwrap();
    assert_eq!(other.last().unwrap()["exit_code"], 0, "{other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sets_the_model_key() {
    let hub = TestHub::start().await.unwrap();
    let lu = hub.create_user("lu").await.unwrap();

    let (_, status) = hub.request(Method::GET, "/api/admin/model-key", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, json!({"configured": true, "source": "environment"}));

    // A wrong key set by the admin is used at once: the mock only accepts TEST_KEY.
    let wrong = "sk-ant-set-through-the-api-0000";
    let (code, _) = hub.request(Method::PUT, "/api/admin/model-key", Some(&hub.admin.access), Some(json!({"api_key": wrong}))).await.unwrap();
    assert_eq!(code, StatusCode::NO_CONTENT);
    let failed = chat(&hub, &lu, "[[text: x]]").await.unwrap();
    assert!(failed.iter().any(|m| m["type"] == "error"), "{failed:?}");
    assert!(hub.mock.as_ref().unwrap().requests().iter().any(|r| r.api_key.as_deref() == Some(wrong)));

    let (code, _) = hub.request(Method::PUT, "/api/admin/model-key", Some(&hub.admin.access), Some(json!({"api_key": TEST_KEY}))).await.unwrap();
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (_, status) = hub.request(Method::GET, "/api/admin/model-key", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, json!({"configured": true, "source": "admin"}));
    assert!(!status.to_string().contains("sk-ant"));
    let works = chat(&hub, &lu, "[[text: y]]").await.unwrap();
    assert_eq!(works.last().unwrap()["exit_code"], 0, "{works:?}");

    // At rest the key is encrypted: neither the database nor the audit log contains it.
    if postgres_backend() {
        let stored = hub.state.store.setting(cchub_server::usage::MODEL_KEY_SETTING).await.unwrap().expect("the key is stored");
        assert!(!stored.contains(TEST_KEY), "the key is stored in clear");
    } else {
        let database = std::fs::read(hub.data_dir.join("database/cchub.db")).unwrap();
        let wal = std::fs::read(hub.data_dir.join("database/cchub.db-wal")).unwrap_or_default();
        for bytes in [&database, &wal] {
            assert!(!bytes.windows(TEST_KEY.len()).any(|w| w == TEST_KEY.as_bytes()), "the key is stored in clear");
        }
    }
    let (_, audit) = hub.request(Method::GET, "/api/admin/audit?action=admin.model_key.set", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(audit.as_array().unwrap().len(), 2);
    assert!(!audit.to_string().contains("sk-ant"));

    for bad in [json!({"api_key": "short"}), json!({"api_key": "has space inside"}), json!({"key": TEST_KEY})] {
        let (code, body) = hub.request(Method::PUT, "/api/admin/model-key", Some(&hub.admin.access), Some(bad)).await.unwrap();
        assert!(code.is_client_error(), "{body}");
    }
    let (code, _) = hub.request(Method::PUT, "/api/admin/model-key", Some(&lu.access), Some(json!({"api_key": TEST_KEY}))).await.unwrap();
    assert_eq!(code, StatusCode::FORBIDDEN);

    let (code, _) = hub.request(Method::DELETE, "/api/admin/model-key", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (_, status) = hub.request(Method::GET, "/api/admin/model-key", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status["source"], "environment");
}
