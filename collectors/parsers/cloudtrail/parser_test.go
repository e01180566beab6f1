package cloudtrail

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Records in the shape CloudTrail writes (values are made up).
const (
	assumedRole = `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:i-0abc","arn":"arn:aws:sts::111122223333:assumed-role/WebRole/i-0abc","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/WebRole","accountId":"111122223333","userName":"WebRole"},"attributes":{"creationDate":"2024-01-02T03:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.9","userAgent":"aws-cli/2.0","requestParameters":{"Host":"s3.amazonaws.com"},"responseElements":null,"requestID":"R1","eventID":"E1","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}`
	serviceCall = `{"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},"eventTime":"2024-01-02T03:04:06Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"ec2.amazonaws.com","userAgent":"ec2.amazonaws.com","eventID":"E2","recipientAccountId":"111122223333"}`
	denied      = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"bob","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/bob"},"eventTime":"2024-01-02T03:04:07Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","errorCode":"AccessDenied","errorMessage":"User: bob is not authorized","requestParameters":{"userName":"mallory"},"eventID":"E3"}`
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, line string
		want       map[string]any
		reason     string
	}{
		{"assumed role", assumedRole, map[string]any{
			"@timestamp": "2024-01-02T03:04:05.000Z", "event.action": "ListBuckets", "event.provider": "s3.amazonaws.com",
			"event.outcome": "success", "event.dataset": "aws.cloudtrail", "cloud.provider": "aws", "cloud.region": "us-east-1",
			"cloud.account.id": "111122223333", "source.ip": "198.51.100.9", "user.name": "i-0abc", "user.id": "AROAEXAMPLE:i-0abc",
			"user_agent.original": "aws-cli/2.0", "aws.cloudtrail.request_parameters": `{"Host":"s3.amazonaws.com"}`,
			"aws.cloudtrail.user_identity.session_context.session_issuer.user_name": "WebRole",
			"aws.cloudtrail.user_identity.session_context.mfa_authenticated":        false, "aws.cloudtrail.read_only": true,
		}, ""},
		{"service caller", serviceCall, map[string]any{
			"source.domain": "ec2.amazonaws.com", "source.address": "ec2.amazonaws.com", "user.name": "ec2.amazonaws.com",
			"aws.cloudtrail.user_identity.type": "AWSService",
		}, ""},
		{"denied", denied, map[string]any{
			"event.outcome": "failure", "aws.cloudtrail.error_code": "AccessDenied", "user.name": "bob",
			"aws.cloudtrail.request_parameters": `{"userName":"mallory"}`,
		}, ""},
		{"envelope on one line", `{"Records":[` + assumedRole + `]}`, nil, "read the file as a document"},
		{"no eventName", `{"eventTime":"2024-01-02T03:04:05Z"}`, nil, "without eventName"},
		{"bad time", `{"eventName":"X","eventTime":"yesterday"}`, nil, "invalid eventTime"},
		{"not JSON", `eventName=X`, nil, "not JSON"},
		{"empty", ``, nil, "empty record"},
	}
	p := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := p.Parse(parsers.Source{Name: "t", Offset: 1}, []byte(tt.line))
			if e.ID() != event.MakeID("t", 1, []byte(tt.line)) {
				t.Error("id not derived from the line")
			}
			if tt.reason != "" {
				if e["event.kind"] != parsers.KindPipelineError || !strings.Contains(e.String(event.FieldParseError), tt.reason) {
					t.Errorf("kind %v reason %q, want flagged with %q", e["event.kind"], e[event.FieldParseError], tt.reason)
				}
				return
			}
			if e["event.kind"] != "event" {
				t.Fatalf("flagged: %v", e[event.FieldParseError])
			}
			for k, v := range tt.want {
				if e[k] != v {
					t.Errorf("%s = %#v, want %#v", k, e[k], v)
				}
			}
		})
	}
	e := p.Parse(parsers.Source{}, []byte(denied))
	if cat, typ := e["event.category"].([]any), e["event.type"].([]any); len(cat) != 1 || cat[0] != "iam" || len(typ) != 2 || typ[0] != "user" || typ[1] != "creation" {
		t.Errorf("CreateUser: category %v type %v, want [iam] [user creation]", cat, typ)
	}
}

func TestParseDocumentShapes(t *testing.T) {
	envelope := "{\n  \"Records\" : [\n" + assumedRole + ",\n" + denied + "]\n}"
	tests := []struct {
		name, doc string
		actions   []string
		flagged   int
	}{
		{"envelope", envelope, []string{"ListBuckets", "CreateUser"}, 0},
		{"array", "[" + serviceCall + "," + denied + "]", []string{"AssumeRole", "CreateUser"}, 0},
		{"lines", assumedRole + "\n" + serviceCall + "\n", []string{"ListBuckets", "AssumeRole"}, 0},
		{"envelope then junk", envelope + "\nnot json\n", []string{"ListBuckets", "CreateUser", ""}, 1},
		{"broken array", `[{"eventName":"A"},{"eventName":]`, []string{""}, 1},
		// A log of another format: one flagged event per line, whole,
		// however many brackets it holds.
		{"sshd lines", "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user x from 1.2.3.4 [preauth]\r\n" +
			"Dec 10 06:55:47 LabSZ sshd[24201]: Received disconnect [1,2] (code 11)\n", []string{"", ""}, 2},
		{"junk line then a record", "garbage [1]\n" + serviceCall + "\n", []string{"", "AssumeRole"}, 1},
		// Records after junk on their line are not lost.
		{"records on one line", assumedRole + "," + serviceCall + "\n", []string{"ListBuckets", "", "AssumeRole"}, 1},
		{"a prefix before a record", "<13>host cloudtrail: " + serviceCall + "\n", []string{"", "AssumeRole"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			flagged := 0
			err := New(Config{}).ParseDocument("doc", strings.NewReader(tt.doc), func(e event.Event) error {
				got = append(got, e.String("event.action"))
				if e["event.kind"] == parsers.KindPipelineError {
					flagged++
					if orig := e.String(event.FieldOriginal); strings.HasPrefix(orig, "Dec") && !strings.Contains(tt.doc, orig+"\r\n") && !strings.Contains(tt.doc, orig+"\n") {
						t.Errorf("flagged %q is not a whole line of the input", orig)
					}
				} else if !strings.HasPrefix(tt.doc[offsetFor(e, tt.doc):], e.String(event.FieldOriginal)) {
					t.Errorf("%s: offset does not start the record", e["event.action"])
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.actions, ",") || flagged != tt.flagged {
				t.Errorf("actions %q (%d flagged), want %q (%d)", got, flagged, tt.actions, tt.flagged)
			}
		})
	}
}

// offsetFor returns the offset in doc from which e's id was derived, or
// len(doc) when there is none.
func offsetFor(e event.Event, doc string) int {
	orig := e.String(event.FieldOriginal)
	for off := 0; off < len(doc); off++ {
		if e.ID() == event.MakeID("doc", int64(off), []byte(orig)) {
			return off
		}
	}
	return len(doc)
}
