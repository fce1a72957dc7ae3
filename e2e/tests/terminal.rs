//! The terminal: bash over `/ws/shell` in the user's container.

use std::time::{Duration, Instant};

use cchub_e2e::{ShellSocket, TestHub};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trip_in_chinese() {
    let hub = TestHub::start().await.unwrap();
    let amy = hub.create_user("amy").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &amy).await.unwrap();

    shell.type_text("echo 你好 && id -u && pwd\n").await.unwrap();
    // Bash wraps the echoed command in bracketed-paste escapes; the output follows it.
    shell.wait_for("你好\r\n1000\r\n/workspace\r\n", WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cjk_burst_is_never_garbled() {
    let hub = TestHub::start().await.unwrap();
    let ben = hub.create_user("ben").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &ben).await.unwrap();

    // 4,000 three-byte characters in one write, then a marker.
    // The marker is computed, so the echo of the typed command cannot match it.
    shell.type_text("printf '中%.0s' $(seq 4000); echo; echo BURST-$((40+2))\n").await.unwrap();
    shell.wait_for("BURST-42\r\n", WAIT).await.unwrap();

    for (index, frame) in shell.frames.iter().enumerate() {
        assert!(std::str::from_utf8(frame).is_ok(), "frame {index} is not valid UTF-8 on its own");
    }
    let output = shell.output();
    assert!(!output.contains('\u{FFFD}'));
    let line = output.lines().find(|l| l.contains("中中中")).unwrap_or_else(|| panic!("no burst line in {:?}", &output[..output.len().min(600)]));
    assert_eq!(line.trim_end().chars().filter(|c| *c == '中').count(), 4000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_reaches_stty() {
    let hub = TestHub::start().await.unwrap();
    let cai = hub.create_user("cai").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &cai).await.unwrap();

    shell.resize(123, 41).await.unwrap();
    // The resize is asynchronous; ask until the shell sees it.
    let deadline = Instant::now() + WAIT;
    loop {
        shell.type_text("stty size\n").await.unwrap();
        if shell.wait_for("41 123", Duration::from_secs(1)).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "stty never reported 41 123: {}", shell.output());
    }

    shell.send_json(json!({"type": "resize", "cols": 0, "rows": 10})).await.unwrap();
    let error = shell.wait_for_message("error", WAIT).await.unwrap();
    assert_eq!(error["code"], "invalid_size");
    shell.send_json(json!({"type": "launch"})).await.unwrap();
    shell.send_json(json!({"type": "ping"})).await.unwrap();
    shell.wait_for_message("pong", WAIT).await.unwrap();
    assert!(shell.messages.iter().any(|m| m["code"] == "invalid_message"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_runs_in_the_terminal() {
    let hub = TestHub::start().await.unwrap();
    let dan = hub.create_user("dan").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &dan).await.unwrap();

    // The shell expands the number, so only the model's answer can contain "answered-42".
    shell.type_text("claude -p \"[[text: answered-$((6*7))]]\"\n").await.unwrap();
    shell.wait_for("answered-42", Duration::from_secs(60)).await.unwrap();
    let requests = hub.mock.as_ref().unwrap().requests();
    assert!(!requests.is_empty(), "the answer came from the mock model");
    assert!(requests.iter().all(|r| r.api_key.as_deref() == Some(cchub_e2e::TEST_KEY)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_socket_ends_the_shell() {
    let hub = TestHub::start().await.unwrap();
    let eve = hub.create_user("eve").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &eve).await.unwrap();
    shell.type_text("sleep 600 &\necho STARTED-$((1+1))\n").await.unwrap();
    shell.wait_for("STARTED-2", WAIT).await.unwrap();
    shell.close().await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, out) = hub.exec(&eve, "ps -eo args").await.unwrap();
        if !out.contains("sleep 600") && !out.contains("bash -l") {
            break;
        }
        assert!(Instant::now() < deadline, "the shell outlived its socket:\n{out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_reports_the_code() {
    let hub = TestHub::start().await.unwrap();
    let fay = hub.create_user("fay").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &fay).await.unwrap();
    shell.type_text("exit 7\n").await.unwrap();
    let exit = shell.wait_for_message("exit", WAIT).await.unwrap();
    assert_eq!(exit["code"], 7, "{exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_claude_answers_and_exits() {
    let hub = TestHub::start().await.unwrap();
    let gus = hub.create_user("gus").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &gus).await.unwrap();
    shell.resize(100, 30).await.unwrap();

    // No onboarding, trust or API key question may stand between the user and the prompt.
    shell.type_text("claude\r").await.unwrap();
    shell.wait_for_text("shift+tab", Duration::from_secs(60)).await.unwrap();
    let before = shell.compact_output();
    assert!(!before.contains("DetectedacustomAPIkey"), "{before}");
    assert!(!before.contains("Quicksafetycheck"), "{before}");
    assert!(!before.contains("UnabletoconnecttoAnthropic"), "{before}");

    // A prompt without directives gets the mock's default answer, which the input lacks.
    shell.type_text("hello from the terminal").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    shell.type_text("\r").await.unwrap();
    shell.wait_for_text("Mock reply.", Duration::from_secs(60)).await.unwrap();

    shell.type_text("/exit\r").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    shell.type_text("echo CODE=$?\r").await.unwrap();
    shell.wait_for("CODE=0", Duration::from_secs(30)).await.unwrap();
}
