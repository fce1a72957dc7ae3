//! The engine's event stream, narrowed to what the hub reacts to in its own containers.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptionsBuilder;
use cchub_policy::{LABEL_INSTANCE, LABEL_MANAGED, LABEL_USER_ID};
use futures_util::{Stream, StreamExt};

use crate::{DockerRuntime, RuntimeError};

/// One container event of a hub's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub kind: ContainerEventKind,
    pub container: String,
    pub user_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerEventKind {
    /// The kernel killed a process of the container for memory.
    Oom,
    /// The container's main process ended.
    Died { exit_code: Option<i64> },
    Started,
}

impl DockerRuntime {
    /// Follows the engine's `oom`, `die` and `start` events of hub `instance`'s containers
    /// from now on. The stream ends when the engine closes it; callers reconnect.
    pub fn container_events(&self, instance: &str) -> impl Stream<Item = Result<ContainerEvent, RuntimeError>> + Send + 'static {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("event".to_string(), vec!["oom".to_string(), "die".to_string(), "start".to_string()]),
            ("label".to_string(), vec![format!("{LABEL_MANAGED}=true"), format!("{LABEL_INSTANCE}={instance}")]),
        ]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        self.client().events(Some(options)).filter_map(|item| async move {
            match item {
                Ok(message) => parse(message).map(Ok),
                Err(err) => Some(Err(RuntimeError::engine("events", "-", err))),
            }
        })
    }
}

fn parse(message: bollard::models::EventMessage) -> Option<ContainerEvent> {
    let actor = message.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    let kind = match message.action.as_deref()? {
        "oom" => ContainerEventKind::Oom,
        "die" => ContainerEventKind::Died {
            exit_code: attributes.get("exitCode").and_then(|code| code.parse().ok()),
        },
        "start" => ContainerEventKind::Started,
        _ => return None,
    };
    Some(ContainerEvent {
        kind,
        container: attributes.get("name").cloned().or(actor.id).unwrap_or_default(),
        user_id: attributes.get(LABEL_USER_ID).and_then(|id| id.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EventActor, EventMessage};

    fn message(action: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            action: Some(action.to_string()),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn die_carries_exit_code_and_user() {
        let event = parse(message("die", &[("name", "cchub-user-3"), ("exitCode", "137"), (LABEL_USER_ID, "3")])).unwrap();
        assert_eq!(event.kind, ContainerEventKind::Died { exit_code: Some(137) });
        assert_eq!(event.container, "cchub-user-3");
        assert_eq!(event.user_id, Some(3));
    }

    #[test]
    fn other_actions_are_skipped() {
        assert_eq!(parse(message("attach", &[])), None);
        assert_eq!(parse(message("oom", &[])).unwrap().kind, ContainerEventKind::Oom);
    }
}
