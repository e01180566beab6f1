package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// inputKeys says which input types use which keys, and whether a key is
// set, so a key given to a type that ignores it is reported rather than
// silently ignored.
var inputKeys = []struct {
	key   string
	types string
	set   func(Input) bool
}{
	{"paths", "file", func(in Input) bool { return len(in.Paths) > 0 }},
	{"follow", "file journald", func(in Input) bool { return in.Follow }},
	{"poll_interval", "file", func(in Input) bool { return in.PollInterval != 0 }},
	{"close_inactive", "file", func(in Input) bool { return in.CloseInactive != 0 }},
	{"registry_path", "file journald", func(in Input) bool { return in.RegistryPath != "" }},
	{"multiline", "file", func(in Input) bool { return in.Multiline != Multiline{} }},
	{"listen", "syslog http", func(in Input) bool { return len(in.Listen) > 0 }},
	{"tls", "syslog http", func(in Input) bool { return in.TLS != TLS{} }},
	{"queue_size", "syslog", func(in Input) bool { return in.QueueSize != 0 }},
	{"token_file", "http", func(in Input) bool { return in.TokenFile != "" }},
	{"max_request_bytes", "http", func(in Input) bool { return in.MaxRequestBytes != 0 }},
	{"max_in_flight", "http", func(in Input) bool { return in.MaxInFlight != 0 }},
	{"command", "journald", func(in Input) bool { return len(in.Command) > 0 }},
	{"args", "journald", func(in Input) bool { return len(in.Args) > 0 }},
	{"seek", "journald", func(in Input) bool { return in.Seek != "" }},
}

// validate checks one input; key is its path, e.g. collect.inputs[2].
func (in Input) validate(key string) error {
	switch in.Type {
	case InputFile, InputStdin, InputSyslog, InputHTTP, InputJournald:
	case "":
		return fmt.Errorf("%s.type: missing (file, stdin, syslog, http or journald)", key)
	default:
		return fmt.Errorf("%s.type: %q is not a known input (file, stdin, syslog, http or journald)", key, in.Type)
	}
	for _, k := range inputKeys {
		if k.set(in) && !strings.Contains(" "+k.types+" ", " "+in.Type+" ") {
			return fmt.Errorf("%s.%s: not used by a %s input (only by: %s)", key, k.key, in.Type, k.types)
		}
	}
	if in.Format == "" {
		return fmt.Errorf("%s.format: missing (e.g. sshd)", key)
	}
	if in.Timezone != "" {
		if _, err := time.LoadLocation(in.Timezone); err != nil {
			return fmt.Errorf("%s.timezone: %w", key, err)
		}
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"max_line_bytes", int64(in.MaxLineBytes)}, {"batch_lines", int64(in.BatchLines)},
		{"queue_size", int64(in.QueueSize)}, {"max_request_bytes", int64(in.MaxRequestBytes)},
		{"max_in_flight", int64(in.MaxInFlight)}, {"poll_interval", int64(in.PollInterval)},
		{"close_inactive", int64(in.CloseInactive)}, {"multiline.max_lines", int64(in.Multiline.MaxLines)},
		{"multiline.timeout", int64(in.Multiline.Timeout)},
	} {
		if n.v < 0 {
			return fmt.Errorf("%s.%s: must not be negative", key, n.name)
		}
	}
	switch in.Type {
	case InputFile:
		if len(in.Paths) == 0 {
			return fmt.Errorf("%s.paths: at least one path is needed", key)
		}
		for j, p := range in.Paths {
			if p == "" {
				return fmt.Errorf("%s.paths[%d]: empty", key, j)
			}
			if _, err := filepath.Match(p, ""); err != nil {
				return fmt.Errorf("%s.paths[%d]: %q: %w", key, j, p, err)
			}
		}
		if m := in.Multiline; m != (Multiline{}) {
			if m.Pattern == "" {
				return fmt.Errorf("%s.multiline.pattern: missing", key)
			}
			if _, err := regexp.Compile(m.Pattern); err != nil {
				return fmt.Errorf("%s.multiline.pattern: %w", key, err)
			}
			if m.Match != "" && m.Match != "after" && m.Match != "before" {
				return fmt.Errorf("%s.multiline.match: %q is not after or before", key, m.Match)
			}
		}
	case InputSyslog:
		if len(in.Listen) == 0 {
			return fmt.Errorf("%s.listen: missing (e.g. udp://127.0.0.1:5514, tcp://0.0.0.0:5514, tls://0.0.0.0:6514)", key)
		}
		usesTLS := false
		for j, l := range in.Listen {
			u, err := url.Parse(l)
			if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "tls") || u.Host == "" {
				return fmt.Errorf("%s.listen[%d]: %q: want udp://host:port, tcp://host:port or tls://host:port", key, j, l)
			}
			if _, _, err := net.SplitHostPort(u.Host); err != nil {
				return fmt.Errorf("%s.listen[%d]: %q: %w", key, j, l, err)
			}
			usesTLS = usesTLS || u.Scheme == "tls"
		}
		if err := in.TLS.validate(key, usesTLS); err != nil {
			return err
		}
	case InputHTTP:
		if len(in.Listen) != 1 {
			return fmt.Errorf("%s.listen: want one host:port (e.g. 127.0.0.1:8088)", key)
		}
		if _, _, err := net.SplitHostPort(in.Listen[0]); err != nil {
			return fmt.Errorf("%s.listen: %q: %w", key, in.Listen[0], err)
		}
		if err := in.TLS.validate(key, false); err != nil {
			return err
		}
		if in.TokenFile == "" && os.Getenv(IngestTokenEnv) == "" {
			return fmt.Errorf("%s.token_file: the http input needs a bearer token: set token_file or %s", key, IngestTokenEnv)
		}
	case InputJournald:
		if in.Seek != "" && in.Seek != "tail" && in.Seek != "head" {
			return fmt.Errorf("%s.seek: %q is not tail or head", key, in.Seek)
		}
	}
	return nil
}

func (t TLS) validate(key string, required bool) error {
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		return fmt.Errorf("%s.tls: set both cert_file and key_file", key)
	case required && t.CertFile == "":
		return fmt.Errorf("%s.tls: a tls:// listener needs tls.cert_file and tls.key_file", key)
	}
	return nil
}
