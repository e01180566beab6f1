package bus

import "strconv"

// Headers Vigil sets on dead-lettered records.
const (
	HeaderDLQReason    = "vigil.dlq.reason"
	HeaderDLQStage     = "vigil.dlq.stage"
	HeaderDLQTopic     = "vigil.dlq.topic"
	HeaderDLQPartition = "vigil.dlq.partition"
	HeaderDLQOffset    = "vigil.dlq.offset"
)

// DeadLetter wraps a record that a stage could not process into a message
// for vigil.dlq: the original key and value, where it came from, which
// stage gave up and why.
func DeadLetter(stage string, r Record, reason string) Message {
	return Message{
		Topic: TopicDLQ,
		Key:   r.Key,
		Value: r.Value,
		Headers: map[string]string{
			HeaderDLQReason:    reason,
			HeaderDLQStage:     stage,
			HeaderDLQTopic:     r.Topic,
			HeaderDLQPartition: strconv.Itoa(int(r.Partition)),
			HeaderDLQOffset:    strconv.FormatInt(r.Offset, 10),
		},
	}
}
