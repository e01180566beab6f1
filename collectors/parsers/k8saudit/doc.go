// Package k8saudit parses Kubernetes API server audit logs (one
// audit.k8s.io Event per line, v1 or v1beta1, as --audit-log-path writes
// them) into ECS events with event.dataset "kubernetes.audit".
//
// Lines enter one at a time through Parser.Parse with where they were
// read (parsers.Source); each leaves as exactly one event.Event. The whole
// audit event is kept, flattened, under kubernetes.audit.* with its own
// field names (kubernetes.audit.objectRef.resource,
// kubernetes.audit.requestObject.spec.hostNetwork, ...), as Elastic's
// Kubernetes integration stores it; the ECS fields (user.*, source.ip,
// user_agent.original, event.action = verb, event.outcome, orchestrator.*)
// are derived from it. A line that is not JSON, or JSON that is not an
// audit Event (the malformed {"kind": 0} of Falco's tests), becomes a
// flagged event (event.kind pipeline_error, vigil.parse_error says why).
//
// A Parser holds no state and is safe for concurrent use.
package k8saudit
