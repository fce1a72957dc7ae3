//! Sign-in, sessions and roles against a real hub.

use base64::Engine;
use cchub_e2e::{ChatSocket, TestHub};
use cchub_runtime::ContainerRuntime;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims(user_id: i64, name: &str, role: &str, exp: u64) -> Value {
    json!({"sub": user_id.to_string(), "name": name, "role": role, "ver": 0, "iat": now() - 60, "exp": exp, "jti": "test"})
}

fn hub_key(hub: &TestHub) -> Vec<u8> {
    let text = std::fs::read_to_string(hub.data_dir.join("secrets/jwt.key")).unwrap();
    base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_ends_the_login() {
    let hub = TestHub::start().await.unwrap();
    let nina = hub.create_user("nina").await.unwrap();

    let (status, me) = hub.request(Method::GET, "/api/me", Some(&nina.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "nina");
    assert_eq!(me["role"], "user");
    assert!(me.get("password_hash").is_none());

    let (status, second) = hub.request(Method::POST, "/api/auth/refresh", None, Some(json!({"refresh_token": nina.refresh}))).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], nina.refresh.as_str());
    assert_eq!(second["expires_in"], 900);

    // The used token is rejected, and its reuse also revokes the token rotated from it.
    let (status, body) = hub.request(Method::POST, "/api/auth/refresh", None, Some(json!({"refresh_token": nina.refresh}))).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "refresh_token_reused");
    let (status, _) = hub.request(Method::POST, "/api/auth/refresh", None, Some(json!({"refresh_token": second["refresh_token"]}))).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = hub.request(Method::GET, "/api/me", Some(second["access_token"].as_str().unwrap()), None).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "access tokens end with the reuse too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_refresh_token() {
    let hub = TestHub::start().await.unwrap();
    let omar = hub.create_user("omar").await.unwrap();
    let (status, _) = hub.request(Method::POST, "/api/auth/logout", None, Some(json!({"refresh_token": omar.refresh}))).await.unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = hub.request(Method::POST, "/api/auth/refresh", None, Some(json!({"refresh_token": omar.refresh}))).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_refresh_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_user_is_rejected_at_once() {
    let hub = TestHub::start().await.unwrap();
    let paul = hub.create_user("paul").await.unwrap();
    hub.start_workspace(&paul).await.unwrap();
    let mut open_socket = ChatSocket::connect(&hub, &paul).await.unwrap();
    let (status, _) = hub
        .request(Method::PATCH, &format!("/api/admin/users/{}", paul.user_id), Some(&hub.admin.access), Some(json!({"disabled": true})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);

    let (status, body) = hub.request(Method::GET, "/api/me", Some(&paul.access), None).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "account_disabled");
    let (status, _) = hub.request(Method::POST, "/api/auth/refresh", None, Some(json!({"refresh_token": paul.refresh}))).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = hub.request(Method::POST, "/api/auth/login", None, Some(json!({"username": "paul", "password": "paul-password-1"}))).await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "account_disabled");
    assert!(ChatSocket::connect(&hub, &paul).await.is_err(), "a disabled user cannot open the chat");
    open_socket.send(json!({"type": "prompt", "text": "still here?"})).await.unwrap();
    let refused = open_socket.next().await.unwrap();
    assert_eq!(refused["code"], "account_disabled", "a socket opened before the disable: {refused}");

    // The container stopped and the gateway socket is gone with the account.
    let container = hub.runtime.inspect(&hub.container_name(paul.user_id)).await.unwrap().unwrap();
    assert_eq!(container.state, cchub_runtime::ContainerState::Exited);
    let socket = hub.data_dir.join("users").join(paul.user_id.to_string()).join("run/model.sock");
    assert!(!socket.exists(), "the gateway socket must be closed");

    // Enabled again, an old access token stays invalid: sessions ended with the disable.
    hub.request(Method::PATCH, &format!("/api/admin/users/{}", paul.user_id), Some(&hub.admin.access), Some(json!({"disabled": false})))
        .await
        .unwrap();
    let (status, _) = hub.request(Method::GET, "/api/me", Some(&paul.access), None).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(hub.login("paul", "paul-password-1").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admin_gets_403_on_every_admin_route() {
    let hub = TestHub::start().await.unwrap();
    let quinn = hub.create_user("quinn").await.unwrap();
    let routes = [
        (Method::GET, "/api/admin/users".to_string(), None),
        (Method::POST, "/api/admin/users".to_string(), Some(json!({"username": "eve", "password": "eve-password-1", "role": "admin"}))),
        (Method::GET, format!("/api/admin/users/{}", hub.admin.user_id), None),
        (Method::PATCH, format!("/api/admin/users/{}", quinn.user_id), Some(json!({"role": "admin"}))),
        (Method::PATCH, format!("/api/admin/users/{}", hub.admin.user_id), Some(json!({"disabled": true}))),
        (Method::POST, format!("/api/admin/users/{}/password", hub.admin.user_id), Some(json!({"password": "taken-over-1"}))),
        (Method::GET, "/api/admin/audit".to_string(), None),
    ];
    for (method, path, body) in routes {
        let (status, response) = hub.request(method.clone(), &path, Some(&quinn.access), body.clone()).await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {response}");
        assert_eq!(response["error"]["code"], "admin_required");
        let (status, _) = hub.request(method.clone(), &path, None, body).await.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without a token");
    }
    let (_, me) = hub.request(Method::GET, "/api/me", Some(&quinn.access), None).await.unwrap();
    assert_eq!(me["role"], "user");
    assert!(hub.login("admin", "admin-password-e2e").await.is_ok(), "the admin's password is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_tokens_get_401() {
    let hub = TestHub::start().await.unwrap();
    let rita = hub.create_user("rita").await.unwrap();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = engine.encode(claims(hub.admin.user_id, "admin", "admin", now() + 600).to_string());
    let alg_none = format!("{none_header}.{payload}.");

    let wrong_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(hub.admin.user_id, "admin", "admin", now() + 600),
        &EncodingKey::from_secret(b"not-the-hub-key-not-the-hub-key-not-the-hub-key"),
    )
    .unwrap();
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(rita.user_id, "rita", "user", now() - 120),
        &EncodingKey::from_secret(&hub_key(&hub)),
    )
    .unwrap();
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(rita.user_id, "rita", "user", now() + 600),
        &EncodingKey::from_secret(&hub_key(&hub)),
    )
    .unwrap();
    let tampered = {
        let parts: Vec<&str> = rita.access.split('.').collect();
        let forged = engine.encode(claims(hub.admin.user_id, "admin", "admin", now() + 600).to_string());
        format!("{}.{forged}.{}", parts[0], parts[2])
    };

    for (what, token) in [("alg none", alg_none), ("wrong key", wrong_key), ("expired", expired), ("HS512", hs512), ("tampered", tampered), ("garbage", "abc".into())] {
        let (status, body) = hub.request(Method::GET, "/api/admin/users", Some(&token), None).await.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert!(body["error"]["code"].as_str().unwrap().contains("token"), "{what}: {body}");
    }

    // A valid signature over claims of a real user works, which shows the checks above
    // failed for their stated reason.
    let valid = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(rita.user_id, "rita", "user", now() + 600), &EncodingKey::from_secret(&hub_key(&hub))).unwrap();
    let (status, _) = hub.request(Method::GET, "/api/me", Some(&valid), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_is_slowed() {
    let hub = TestHub::start().await.unwrap();
    hub.create_user("sam").await.unwrap();
    let attempt = |password: &'static str| hub.request(Method::POST, "/api/auth/login", None, Some(json!({"username": "sam", "password": password})));

    for _ in 0..5 {
        let (status, body) = attempt("wrong-password").await.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    // The account is locked now, even for the right password, and Retry-After says for how long.
    let response = hub
        .client
        .post(format!("{}/api/auth/login", hub.url))
        .json(&json!({"username": "sam", "password": "sam-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0, "{retry_after}");
    assert!(retry_after <= 300, "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");

    // Other accounts are not locked by sam's failures.
    assert!(hub.login("admin", "admin-password-e2e").await.is_ok());

    // Unknown users fail the same way and count against the address.
    let (status, body) = hub.request(Method::POST, "/api/auth/login", None, Some(json!({"username": "nobody", "password": "whatever1"}))).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");

    let (status, audit) = hub.request(Method::GET, "/api/admin/audit?action=auth.login", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let outcomes: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert!(outcomes.contains(&"failure"), "{outcomes:?}");
    assert!(outcomes.contains(&"denied"), "{outcomes:?}");
    assert!(outcomes.contains(&"success"), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_and_reset_end_sessions() {
    let hub = TestHub::start().await.unwrap();
    let tom = hub.create_user("tom").await.unwrap();
    let (status, body) = hub
        .request(Method::POST, "/api/me/password", Some(&tom.access), Some(json!({"current_password": "wrong-one-1", "new_password": "new-password-1"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = hub
        .request(Method::POST, "/api/me/password", Some(&tom.access), Some(json!({"current_password": "tom-password-1", "new_password": "short"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "weak_password");
    let (status, _) = hub
        .request(Method::POST, "/api/me/password", Some(&tom.access), Some(json!({"current_password": "tom-password-1", "new_password": "new-password-1"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = hub.request(Method::GET, "/api/me", Some(&tom.access), None).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = hub.request(Method::POST, "/api/auth/refresh", None, Some(json!({"refresh_token": tom.refresh}))).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let tom = hub.login("tom", "new-password-1").await.unwrap();
    let (status, _) = hub
        .request(Method::POST, &format!("/api/admin/users/{}/password", tom.user_id), Some(&hub.admin.access), Some(json!({"password": "reset-password-1"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = hub.request(Method::GET, "/api/me", Some(&tom.access), None).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(hub.login("tom", "reset-password-1").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_admin_cannot_be_removed() {
    let hub = TestHub::start().await.unwrap();
    let path = format!("/api/admin/users/{}", hub.admin.user_id);
    for change in [json!({"disabled": true}), json!({"role": "user"})] {
        let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(change)).await.unwrap();
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "last_admin");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_auth_by_first_message() {
    let hub = TestHub::start().await.unwrap();
    let uma = hub.create_user("uma").await.unwrap();

    let mut socket = ChatSocket::connect_bare(&hub).await.unwrap();
    socket.send(json!({"type": "auth", "token": uma.access})).await.unwrap();
    assert_eq!(socket.next().await.unwrap()["type"], "ready");
    socket.send(json!({"type": "ping"})).await.unwrap();
    assert_eq!(socket.next().await.unwrap()["type"], "pong");

    let mut socket = ChatSocket::connect_bare(&hub).await.unwrap();
    socket.send(json!({"type": "auth", "token": "forged"})).await.unwrap();
    let error = socket.next().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "invalid_token");
    assert!(socket.next().await.is_err(), "the hub closes the socket");

    let mut socket = ChatSocket::connect_bare(&hub).await.unwrap();
    socket.send(json!({"type": "prompt", "text": "no auth first"})).await.unwrap();
    assert_eq!(socket.next().await.unwrap()["code"], "missing_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_limited() {
    let hub = TestHub::start().await.unwrap();
    let vera = hub.create_user("vera").await.unwrap();
    let guess = json!({"current_password": "guess-guess-1", "new_password": "new-password-1"});
    for _ in 0..5 {
        let (status, body) = hub.request(Method::POST, "/api/me/password", Some(&vera.access), Some(guess.clone())).await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let right = json!({"current_password": "vera-password-1", "new_password": "new-password-1"});
    let (status, body) = hub.request(Method::POST, "/api/me/password", Some(&vera.access), Some(right)).await.unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    let (_, audit) = hub.request(Method::GET, "/api/admin/audit?action=auth.password_change", Some(&hub.admin.access), None).await.unwrap();
    let failures = audit.as_array().unwrap().iter().filter(|e| e["outcome"] == "failure").count();
    assert_eq!(failures, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_disable_stops_the_workspace() {
    let hub = TestHub::start().await.unwrap();
    let vic = hub.create_user("vic").await.unwrap();
    hub.start_workspace(&vic).await.unwrap();

    // The CLI reaches the hub's store and engine the way an admin's shell would.
    let mut command = std::process::Command::new(cchub_e2e::cchub_binary());
    command.args(["user", "set", "vic", "--disable"]).env("CCHUB_DATA_DIR", &hub.data_dir).env("CCHUB_INSTANCE", &hub.instance);
    command.env("CCHUB_DATABASE_URL", hub.state.config.database.url.expose());
    let output = command.output().expect("the cchub binary runs");
    let printed = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("stopped the workspace container"), "{printed}");

    let info = hub.runtime.inspect(&hub.container_name(vic.user_id)).await.unwrap().expect("the container is kept");
    assert_ne!(info.state, cchub_runtime::ContainerState::Running, "the disabled user's container is stopped");
    let (status, _) = hub.request(Method::GET, "/api/me", Some(&vic.access), None).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, audit) = hub.request(Method::GET, "/api/admin/audit?action=cli.user.disable", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(audit[0]["detail"]["container_stopped"], true, "{audit}");
}
