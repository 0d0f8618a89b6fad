//! Kubernetes Events (events.k8s.io/v1 through kube's `Recorder`) with KEDA's reasons; the reason
//! doubles as the action, as in KEDA. Publishing never blocks a reconcile or a poll.

use ebb_core::EventType as CoreEventType;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// Publishes Events in the background; cheap to clone.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// A publisher reporting as `controller` (`instance`: the pod name).
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Events {
        let reporter = Reporter {
            controller: controller.to_owned(),
            instance,
        };
        Events {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// A Normal event.
    pub fn normal(&self, regarding: &ObjectReference, reason: &str, message: impl Into<String>) {
        self.publish(regarding, EventType::Normal, reason, message.into());
    }

    /// A Warning event.
    pub fn warning(&self, regarding: &ObjectReference, reason: &str, message: impl Into<String>) {
        self.publish(regarding, EventType::Warning, reason, message.into());
    }

    /// An event decided by ebb-core.
    pub fn decided(&self, regarding: &ObjectReference, event: &ebb_core::Event) {
        let type_ = match event.event_type {
            CoreEventType::Normal => EventType::Normal,
            CoreEventType::Warning => EventType::Warning,
        };
        self.publish(regarding, type_, event.reason, event.message.clone());
    }

    fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: String,
    ) {
        let recorder = self.recorder.clone();
        let regarding = regarding.clone();
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(truncate(message)),
            action: reason.to_owned(),
            secondary: None,
        };
        tokio::spawn(async move {
            if let Err(error) = recorder.publish(&event, &regarding).await {
                tracing::warn!(%error, reason = %event.reason, "could not publish event");
            }
        });
    }
}

// events.k8s.io refuses notes over 1 kB.
fn truncate(mut message: String) -> String {
    if message.len() > 1000 {
        let mut end = 1000;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}
