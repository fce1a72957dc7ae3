//! The product's main job: a user signs in, the real `claude` runs in the user's
//! container, streams its work and changes the user's workspace.

use cchub_e2e::{chat, TestHub, TEST_KEY};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn event_types(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match m["type"].as_str() {
            Some("event") => format!("event:{}", m["event"]["type"].as_str().unwrap_or("?")),
            Some(other) => other.to_string(),
            None => "?".into(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_writes_a_file_through_the_bash_tool() {
    let hub = TestHub::start().await.unwrap();
    let alice = hub.create_user("alice").await.unwrap();

    let messages = chat(&hub, &alice, "Create the file. [[bash: printf 'made by claude' > hello.txt && ls -l hello.txt]] [[text: The file is written.]]")
        .await
        .unwrap();
    let types = event_types(&messages);

    assert_eq!(types.first().map(String::as_str), Some("started"), "{types:?}");
    assert_eq!(types.get(1).map(String::as_str), Some("event:system"), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("done"), "{types:?}");
    let tool_use = types.iter().position(|t| t == "event:assistant").expect("an assistant event");
    let tool_result = types.iter().position(|t| t == "event:user").expect("a tool result event");
    let result = types.iter().position(|t| t == "event:result").expect("a result event");
    assert!(tool_use < tool_result, "{types:?}");
    assert!(tool_result < result, "{types:?}");

    let done = messages.last().unwrap();
    assert_eq!(done["exit_code"], 0, "{done}");
    assert_eq!(done["aborted"], false);
    assert!(!types.contains(&"error".to_string()), "{messages:?}");
    let result_event = &messages[result]["event"];
    assert_eq!(result_event["is_error"], false, "{result_event}");
    assert_eq!(result_event["result"], "The file is written.");

    let (status, body) = hub.request(Method::GET, "/api/files/content?path=hello.txt", Some(&alice.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["content"], "made by claude");

    let (status, body) = hub.request(Method::GET, "/api/files/tree", Some(&alice.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["entries"].as_array().unwrap().iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(names.contains(&"hello.txt"), "{names:?}");

    // The model saw the organisation key, and only through the gateway.
    let requests = hub.mock.as_ref().unwrap().requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.api_key.as_deref() == Some(TEST_KEY)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_file_reaches_the_agent() {
    let hub = TestHub::start().await.unwrap();
    let bob = hub.create_user("bob").await.unwrap();

    let (status, body) = hub
        .request(Method::PUT, "/api/files/content?path=notes.txt", Some(&bob.access), Some(serde_json::json!({"content": "你好, world"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");

    let messages = chat(&hub, &bob, "[[bash: cat notes.txt && stat -c %u:%g notes.txt]]").await.unwrap();
    let tool_output = messages
        .iter()
        .find(|m| m["event"]["type"] == "user")
        .map(|m| m["event"]["message"]["content"][0]["content"].to_string())
        .unwrap_or_default();
    assert!(tool_output.contains("你好, world"), "{tool_output}");
    assert!(tool_output.contains("1000:1000"), "files written by the hub belong to the container's user: {tool_output}");
}
