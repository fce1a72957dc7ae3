//! The organisation's key never enters a container, whatever the user tries.

use cchub_e2e::{chat, TestHub, TEST_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_is_not_readable_from_the_container() {
    let hub = TestHub::start().await.unwrap();
    let mallory = hub.create_user("mallory").await.unwrap();

    // A run first, so that the agent and the relay have been busy with the key's requests.
    let messages = chat(&hub, &mallory, "[[bash: env > /workspace/env-during-run.txt]]").await.unwrap();
    assert_eq!(messages.last().unwrap()["exit_code"], 0, "{messages:?}");

    let probes = [
        ("environment", "env"),
        ("every process environment", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"),
        ("every process command line", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '"),
        ("files written during a run", "cat /workspace/env-during-run.txt"),
        ("readable files", "grep -rIl --exclude-dir=proc --exclude-dir=sys -e sk-ant-e2e / 2>/dev/null; echo searched"),
        ("the home folder", "cat $HOME/.claude.json $HOME/.claude/*.json 2>/dev/null; ls -la $HOME"),
    ];
    for (what, command) in probes {
        let (_, out) = hub.exec(&mallory, command).await.unwrap();
        assert!(!out.contains(TEST_KEY), "the key leaked through {what}");
        assert!(!out.contains("sk-ant-e2e"), "part of the key leaked through {what}");
    }

    // A raw request through the gateway socket: the reply never echoes the key, and
    // paths other than the Messages API are refused before reaching the upstream.
    let before = hub.mock.as_ref().unwrap().requests().len();
    let raw = r#"body='{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'; printf 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "${#body}" "$body" | socat -t 5 - UNIX-CONNECT:/run/cchub/model.sock"#;
    let (_, out) = hub.exec(&mallory, raw).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(!out.contains(TEST_KEY), "{out}");

    for path in ["/v1/models", "/v1/files", "/v1/organizations/me", "/v1/messages/batches", "/_mock/requests"] {
        let request = format!(
            r#"printf 'GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | socat -t 5 - UNIX-CONNECT:/run/cchub/model.sock"#
        );
        let (_, out) = hub.exec(&mallory, &request).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 404") || out.starts_with("HTTP/1.1 405"), "{path}: {out}");
        assert!(!out.contains(TEST_KEY));
    }
    let forwarded = hub.mock.as_ref().unwrap().requests().len() - before;
    assert_eq!(forwarded, 1, "only the one Messages request may reach the upstream");

    // The socket folder is read-only: the user cannot replace the socket with their own.
    let (code, out) = hub.exec(&mallory, "rm -f /run/cchub/model.sock; touch /run/cchub/x").await.unwrap();
    assert_ne!(code, 0, "{out}");
    let (_, out) = hub.exec(&mallory, "ls -l /run/cchub").await.unwrap();
    assert!(out.contains("model.sock"), "{out}");
}
