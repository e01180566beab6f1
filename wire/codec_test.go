package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"

	"github.com/vigil-siem/vigil/event"
)

const topic = "vigil.events"

func sampleEvent() event.Event {
	return event.Event{
		"@timestamp": "2025-12-10T06:55:46.000Z", "vigil.event_id": "0f3c", "event.kind": "event",
		"event.category": []any{"authentication"}, "event.outcome": "failure", "source.ip": "203.0.113.45",
		"source.port": int64(5022), "user.name": "admin", "host.name": "LabSZ",
		"threat.enrichments": []any{map[string]any{"indicator": map[string]any{"ip": "203.0.113.45"}}},
	}
}

// mockCodecs returns a producer codec writing Avro on topic and a
// consumer codec configured for JSON, sharing one mock registry.
func mockCodecs(t testing.TB) (producer, consumer *Codec, client schemaregistry.Client) {
	t.Helper()
	client, err := schemaregistry.NewClient(schemaregistry.NewConfig("mock://wire-test"))
	if err != nil {
		t.Fatal(err)
	}
	producer, err = NewWithClient(Config{Formats: map[string]string{topic: FormatAvro}}, client)
	if err != nil {
		t.Fatal(err)
	}
	consumer, err = NewWithClient(Config{Formats: map[string]string{topic: FormatJSON}}, client)
	if err != nil {
		t.Fatal(err)
	}
	return producer, consumer, client
}

// TestEncodeFollowsTopicFormat: an Avro topic gets the Confluent wire
// format with the registered id, any other topic event.Marshal's JSON.
func TestEncodeFollowsTopicFormat(t *testing.T) {
	producer, _, _ := mockCodecs(t)
	ev := sampleEvent()
	b, err := producer.Encode(topic, ev)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := producer.SchemaID(topic)
	if !ok || b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != id {
		t.Errorf("Avro record starts % x, want magic 0 and schema id %d", b[:5], id)
	}
	if producer.Format(topic) != FormatAvro || producer.Format("other") != FormatJSON {
		t.Errorf("formats: %s %s", producer.Format(topic), producer.Format("other"))
	}
	j, err := producer.Encode("other", ev)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := event.Marshal(ev)
	if !bytes.Equal(j, want) {
		t.Errorf("JSON topic got %s, want %s", j, want)
	}
	if len(b) >= len(j) {
		t.Errorf("Avro record (%d bytes) is not smaller than JSON (%d bytes)", len(b), len(j))
	}
}

// TestDecodeEitherFormat: consumers read JSON and Avro whatever their own
// topic format is, and get the same event from both.
func TestDecodeEitherFormat(t *testing.T) {
	producer, consumer, _ := mockCodecs(t)
	ev := sampleEvent()
	avroBytes, err := producer.Encode(topic, ev)
	if err != nil {
		t.Fatal(err)
	}
	jsonBytes, _ := event.Marshal(ev)
	want, _ := event.Unmarshal(jsonBytes)
	for _, c := range []struct {
		name  string
		codec *Codec
		value []byte
	}{
		{"avro codec, avro record", producer, avroBytes},
		{"avro codec, json record", producer, jsonBytes},
		{"json codec, avro record", consumer, avroBytes},
		{"json codec, json record", consumer, jsonBytes},
		{"json with leading white space", consumer, append([]byte(" \r\n\t"), jsonBytes...)},
	} {
		got, err := c.codec.Decode(topic, c.value)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", c.name, got, want)
		}
	}
}

// TestDecodeMalformed: bad records are errors that say what is wrong,
// never panics.
func TestDecodeMalformed(t *testing.T) {
	producer, _, client := mockCodecs(t)
	good, err := producer.Encode(topic, sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := producer.SchemaID(topic)
	otherID, err := client.Register(subjectOf(topic), schemaregistry.SchemaInfo{Schema: `{"type":"record","name":"Other","fields":[{"name":"a","type":"string"}]}`}, false)
	if err != nil {
		t.Fatal(err)
	}
	jsonSchemaID, err := client.Register(subjectOf(topic), schemaregistry.SchemaInfo{Schema: `{"type":"object"}`, SchemaType: "JSON"}, false)
	if err != nil {
		t.Fatal(err)
	}
	header := func(id int, body ...byte) []byte {
		b := []byte{0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(id))
		return append(b, body...)
	}
	noRegistry, err := NewWithClient(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		codec *Codec
		value []byte
		want  string
	}{
		{"empty", producer, nil, "empty record value"},
		{"white space", producer, []byte("  \n"), "only white space"},
		{"JSON array", producer, []byte(`[1,2]`), "neither a JSON object nor Confluent Avro (first byte 0x5b)"},
		{"text", producer, []byte("Dec 10 06:55:46 LabSZ sshd[24200]"), "first byte 0x44"},
		{"truncated JSON", producer, []byte(`{"a":`), "decode event: "},
		{"magic byte only", producer, []byte{0}, "header of 1 bytes, want 5"},
		{"short header", producer, []byte{0, 0, 0, 1}, "header of 4 bytes"},
		{"GUID wire format", producer, append([]byte{1}, make([]byte, 20)...), "magic byte 1"},
		{"unknown schema id", producer, header(999, 0), "schema id 999"},
		{"schema id zero", producer, header(0, 0), "schema id 0"},
		{"another Avro schema", producer, header(otherID, 2, 'x'), "not Vigil's event schema"},
		{"a JSON Schema id", producer, header(jsonSchemaID, 0), "is a JSON schema"},
		{"no registry configured", noRegistry, good, "no schema registry is configured"},
		{"trailing bytes", producer, append(bytes.Clone(good), 0), "1 bytes after the record"},
		{"bad union branch", producer, header(id, 2, 2, 'k', 14), "union branch 7"},
		{"negative union branch", producer, header(id, 2, 2, 'k', 1), "union branch -1"},
		{"bad boolean", producer, header(id, 2, 2, 'k', 2, 7, 0), "boolean byte 7"},
		{"huge map count", producer, header(id, 0xfe, 0xff, 0xff, 0xff, 0x0f), "items with"},
		{"huge array count", producer, header(id, 2, 2, 'k', 10, 0xfe, 0xff, 0xff, 0xff, 0x0f), "items with"},
		{"negative string length", producer, header(id, 2, 1, 0, 0, 0), "string of -1 bytes"},
		{"varint overflow", producer, header(id, 2, 2, 'k', 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), "overflows"},
		{"NaN double", producer, header(id, append([]byte{2, 2, 'k', 6}, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 0)...), "no JSON form"},
	}
	// A valid record cut short anywhere after its header.
	for n := 5; n < len(good); n++ {
		cases = append(cases, struct {
			name  string
			codec *Codec
			value []byte
			want  string
		}{fmt.Sprintf("truncated at %d of %d", n, len(good)), producer, good[:n], "Avro byte"})
	}
	for _, c := range cases {
		ev, err := c.codec.Decode(topic, c.value)
		if err == nil {
			t.Errorf("%s: decoded %v, want an error", c.name, ev)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "decode event: ") {
			t.Errorf("%s: error %q does not start with \"decode event: \" and say %q", c.name, err, c.want)
		}
	}
}

// TestConfigValidate: settings that cannot work are refused with the key
// to fix.
func TestConfigValidate(t *testing.T) {
	avro := map[string]string{topic: FormatAvro}
	for _, c := range []struct {
		name string
		cfg  Config
		want string // "" means valid
	}{
		{"nothing", Config{}, ""},
		{"json only", Config{Formats: map[string]string{topic: FormatJSON}}, ""},
		{"avro with registry", Config{Formats: avro, SchemaRegistry: SchemaRegistry{URL: "https://sr.example:8081", Username: "k", Password: "s"}}, ""},
		{"unknown format", Config{Formats: map[string]string{topic: "protobuf"}}, `wire.formats[vigil.events]: "protobuf" is not json or avro`},
		{"avro without registry", Config{Formats: avro}, "wire.schema_registry.url: required"},
		{"bad scheme", Config{Formats: avro, SchemaRegistry: SchemaRegistry{URL: "ftp://sr"}}, "is not http or https"},
		{"credentials in URL", Config{Formats: avro, SchemaRegistry: SchemaRegistry{URL: "https://u:p@sr"}}, "credentials in the URL"},
		{"user without password", Config{Formats: avro, SchemaRegistry: SchemaRegistry{URL: "https://sr", Username: "k"}}, "go together"},
		{"password without url", Config{SchemaRegistry: SchemaRegistry{Password: "s"}}, "but no url"},
	} {
		err := c.cfg.Validate("wire")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestNewFailsWhenRegistryUnreachable: a process configured for Avro does
// not start without its registry, and says which one.
func TestNewFailsWhenRegistryUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more
	_, err = New(Config{Formats: map[string]string{topic: FormatAvro}, SchemaRegistry: SchemaRegistry{URL: url}})
	if err == nil || !strings.Contains(err.Error(), "register the event schema as subject vigil.events-value at schema registry "+url) {
		t.Fatalf("got %v", err)
	}
}

// fakeRegistry serves the two Schema Registry calls a Codec makes,
// behind basic auth.
func fakeRegistry(t *testing.T, user, pass string, registered *atomic.Int32) *httptest.Server {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if r.Header.Get("Authorization") != want {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error_code":401,"message":"Unauthorized"}`)
			return
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/subjects/vigil.events-value/versions":
			var body struct{ Schema string }
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Schema != Schema {
				w.WriteHeader(http.StatusUnprocessableEntity)
				fmt.Fprint(w, `{"error_code":42201,"message":"Invalid schema"}`)
				return
			}
			registered.Add(1)
			fmt.Fprint(w, `{"id":7}`)
		case r.Method == http.MethodGet && r.URL.Path == "/schemas/ids/7":
			b, _ := json.Marshal(map[string]string{"schema": Schema})
			w.Write(b)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code":40403,"message":"Schema not found"}`)
		}
	}))
}

// TestRegistryOverHTTP: the codec registers its schema with basic auth,
// writes the id it got, and a consumer resolves that id over HTTP. With
// a wrong password it fails at start, without the password in the error.
func TestRegistryOverHTTP(t *testing.T) {
	user, pass := "key-"+t.Name(), fmt.Sprintf("secret-%d", len(t.Name())*7919) // fake credentials
	var registered atomic.Int32
	srv := fakeRegistry(t, user, pass, &registered)
	defer srv.Close()
	cfg := Config{Formats: map[string]string{topic: FormatAvro}, SchemaRegistry: SchemaRegistry{URL: srv.URL, Username: user, Password: pass}}
	producer, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if registered.Load() != 1 {
		t.Errorf("schema registered %d times, want 1", registered.Load())
	}
	b, err := producer.Encode(topic, sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	if id := binary.BigEndian.Uint32(b[1:5]); id != 7 {
		t.Errorf("record carries schema id %d, want 7", id)
	}
	consumerCfg := cfg
	consumerCfg.Formats = nil // a consumer that registers nothing still resolves ids
	consumer, err := New(consumerCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	if ev, err := consumer.Decode(topic, b); err != nil || ev.String("source.ip") != "203.0.113.45" {
		t.Errorf("consumer decoded %v, %v", ev, err)
	}
	if _, err := consumer.Decode(topic, []byte{0, 0, 0, 0, 8, 0}); err == nil || !strings.Contains(err.Error(), "schema id 8") {
		t.Errorf("unknown id: %v", err)
	}

	cfg.SchemaRegistry.Password = pass + "-wrong"
	_, err = New(cfg)
	if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("wrong password: got %v", err)
	}
	if strings.Contains(err.Error(), pass) {
		t.Errorf("error reveals the password: %v", err)
	}
}

// TestRejectedSchemaIsRemembered: an id the registry answered with another
// schema is not asked again for every record.
func TestRejectedSchemaIsRemembered(t *testing.T) {
	client, err := schemaregistry.NewClient(schemaregistry.NewConfig("mock://wire-remember"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := client.Register(subjectOf(topic), schemaregistry.SchemaInfo{Schema: `"string"`}, false)
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingClient{Client: client}
	c, err := NewWithClient(Config{}, counting)
	if err != nil {
		t.Fatal(err)
	}
	rec := []byte{0, 0, 0, 0, byte(id), 0}
	for range 3 {
		if _, err := c.Decode(topic, rec); !errors.Is(err, errNotEventSchema) {
			t.Fatalf("got %v", err)
		}
	}
	if counting.lookups != 1 {
		t.Errorf("registry asked %d times, want 1", counting.lookups)
	}
}

type countingClient struct {
	schemaregistry.Client
	lookups int
}

func (c *countingClient) GetBySubjectAndID(subject string, id int) (schemaregistry.SchemaInfo, error) {
	c.lookups++
	return c.Client.GetBySubjectAndID(subject, id)
}

// TestConcurrentUse: one codec serves every encoding and decoding
// goroutine of a process (run with -race).
func TestConcurrentUse(t *testing.T) {
	producer, consumer, _ := mockCodecs(t)
	ev := sampleEvent()
	want, _ := event.Marshal(ev)
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				ev := ev.Clone()
				ev[fmt.Sprintf("labels.g%d_%d", g, i)] = "x" // new field names for the interner
				b, err := producer.Encode(topic, ev)
				if err == nil {
					_, err = consumer.Decode(topic, b)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			b, _ := producer.Encode(topic, sampleEvent())
			got, err := consumer.Decode(topic, b)
			if err == nil {
				if j, _ := event.Marshal(got); !bytes.Equal(j, want) {
					err = fmt.Errorf("got %s", j)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
