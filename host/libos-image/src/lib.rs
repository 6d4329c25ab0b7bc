//! AgentImage manifests and the content-addressed image store.
