// Package cloudtrail parses AWS CloudTrail records into ECS events with
// event.dataset "aws.cloudtrail", following Elastic's AWS integration:
// event.provider is the eventSource, event.action the eventName,
// event.outcome failure when the call has an errorCode, cloud.*, source.ip
// (or source.domain when the caller is an AWS service), user_agent.original
// and user.name/user.id from userIdentity. The rest stays under Elastic's
// aws.cloudtrail.* namespace, request_parameters and response_elements as
// JSON text.
//
// Records enter through Parser.Parse (one record per line: JSON lines,
// Logstash-style exports) or Parser.ParseDocument (the {"Records":[...]}
// envelope CloudTrail writes to S3, a JSON array of records, or JSON
// lines), and leave as one event.Event each. A record that is not JSON or
// has no eventName or time becomes a flagged event (event.kind
// pipeline_error).
package cloudtrail
