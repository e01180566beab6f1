package wire

import (
	"reflect"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"

	"github.com/vigil-siem/vigil/event"
)

// TestConfluentSerdeInterop: Confluent's own Avro serde (avrov2, as used
// by other Go consumers and producers of the topic) reads the records
// Encode writes, and Decode reads the records it writes, through the same
// registry.
func TestConfluentSerdeInterop(t *testing.T) {
	producer, consumer, client := mockCodecs(t)
	ev := tricky()["objects"]
	ev["@timestamp"] = "2025-12-10T06:55:46.000Z"
	b, err := producer.Encode(topic, ev)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readEvent(b[headerSize:], nil)
	if err != nil {
		t.Fatal(err)
	}

	deser, err := avrov2.NewDeserializer(client, serde.ValueSerde, avrov2.NewDeserializerConfig())
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := deser.DeserializeInto(topic, b, &generic); err != nil {
		t.Fatalf("avrov2 cannot read Encode's record: %v", err)
	}
	got := event.Event{}
	for k, v := range generic.(map[string]any)["fields"].(map[string]any) {
		got[k] = unwrapHamba(t, v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("avrov2 read\n%#v\nwant\n%#v", got, want)
	}

	conf := avrov2.NewSerializerConfig()
	conf.AutoRegisterSchemas = false
	conf.UseLatestVersion = true
	ser, err := avrov2.NewSerializer(client, serde.ValueSerde, conf)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{}
	for k, v := range want {
		fields[k] = wrapHamba(v)
	}
	rec, err := ser.Serialize(topic, &map[string]any{"fields": fields})
	if err != nil {
		t.Fatalf("avrov2 cannot write the event: %v", err)
	}
	back, err := consumer.Decode(topic, rec)
	if err != nil {
		t.Fatalf("Decode cannot read avrov2's record: %v", err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("from avrov2's record Decode read\n%#v\nwant\n%#v", back, want)
	}
}
