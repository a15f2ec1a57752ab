package config_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/config"
)

func parse(args []string, env map[string]string) (config.Config, error) {
	c := config.Default()
	fs := c.FlagSet("serve", config.Server, io.Discard)
	_, err := c.Parse(fs, args, func(k string) string { return env[k] })
	return c, err
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("x"), 0o600)
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(config.Config) bool
	}{
		{name: "defaults", check: func(c config.Config) bool {
			return c.Addr == ":8080" && c.MediaUDP == ":10000" && c.DataDir == "./attache-data" && c.DatabaseURL == "" && c.PublicURL() == "http://localhost:8080"
		}},
		{name: "env", env: map[string]string{"ATTACHE_ADDR": "127.0.0.1:9000", "ATTACHE_DEMO": "true", "ATTACHE_LOG_LEVEL": "debug"},
			check: func(c config.Config) bool {
				return c.Addr == "127.0.0.1:9000" && c.Demo && c.LogLevel == slog.LevelDebug && c.PublicURL() == "http://127.0.0.1:9000"
			}},
		{name: "flag beats env", args: []string{"--addr", ":7000"}, env: map[string]string{"ATTACHE_ADDR": ":9000"},
			check: func(c config.Config) bool { return c.Addr == ":7000" }},
		{name: "postgres", args: []string{"--database", "postgres://u@db/attache"}, check: func(c config.Config) bool { return c.DatabaseURL != "" }},
		{name: "self-signed gives https", args: []string{"--tls-self-signed"}, check: func(c config.Config) bool { return c.PublicURL() == "https://localhost:8080" }},
		{name: "smtp from env", args: []string{"--smtp", "127.0.0.1:2525", "--smtp-tls", "none", "--smtp-from", "Consular Services <attache@example.org>", "--smtp-user", "attache"},
			env: map[string]string{"ATTACHE_SMTP_PASSWORD": "s3cret"},
			check: func(c config.Config) bool {
				return c.SMTP == "127.0.0.1:2525" && c.SMTPPassword == "s3cret" && c.SMTPTLS == "none"
			}},
		{name: "session durations", args: []string{"--session-idle", "30m"}, check: func(c config.Config) bool { return c.SessionIdle == 30*time.Minute }},
		{name: "trusted proxies", args: []string{"--trusted-proxies", "127.0.0.1, 10.0.0.0/8"},
			check: func(c config.Config) bool {
				return len(c.TrustedProxies) == 2 && c.TrustedProxies[0].String() == "127.0.0.1/32"
			}},
		{name: "bad proxy", env: map[string]string{"ATTACHE_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, wantErr: "proxy.local"},
		{name: "media", args: []string{"--media-udp", "127.0.0.1:0"}, env: map[string]string{"ATTACHE_MEDIA_PUBLIC_IP": "203.0.113.7, 2001:db8::7"},
			check: func(c config.Config) bool {
				return c.MediaUDP == "127.0.0.1:0" && len(c.MediaPublicIPs) == 2 && c.MediaPublicIPs[1] == "2001:db8::7"
			}},
		{name: "bad media address", args: []string{"--media-udp", "media.example:10000"}, wantErr: "--media-udp"},
		{name: "bad media port", args: []string{"--media-udp", ":70000"}, wantErr: "--media-udp"},
		{name: "bad public ip", args: []string{"--media-public-ip", "media.example"}, wantErr: "media.example"},
		{name: "media tcp off", args: []string{"--media-tcp", "off"}, check: func(c config.Config) bool { return c.MediaTCP == "off" && c.MediaUDP == ":10000" }},
		{name: "bad media tcp", args: []string{"--media-tcp", "10000"}, wantErr: "--media-tcp"},
		{name: "visit times", env: map[string]string{"ATTACHE_VISIT_OPENS_BEFORE": "30m", "ATTACHE_VISIT_GRACE": "0s"},
			check: func(c config.Config) bool { return c.VisitOpensBefore == 30*time.Minute && c.VisitGrace == 0 }},
		{name: "turn", args: []string{"--turn-udp", ":3478", "--turn-tcp", ":3478", "--turn-relay-ports", "49160-49200"}, env: map[string]string{"ATTACHE_TURN_SECRET": "0123456789abcdef0123"},
			check: func(c config.Config) bool {
				lo, hi, err := c.TURNPorts()
				return c.TURNUDP == ":3478" && c.TURNSecret == "0123456789abcdef0123" && lo == 49160 && hi == 49200 && err == nil
			}},
		{name: "turn ports backwards", args: []string{"--turn-udp", ":3478", "--turn-relay-ports", "50000-40000"}, wantErr: "--turn-relay-ports"},
		{name: "nodes", args: []string{"--node-id", "n1.beijing", "--node-url", "http://10.0.0.5:8080/", "--node-timeout", "5s"},
			check: func(c config.Config) bool {
				return c.NodeID == "n1.beijing" && c.InternalURL() == "http://10.0.0.5:8080" && c.NodeTimeout == 5*time.Second
			}},
		{name: "node url from the listen address", args: []string{"--addr", "10.0.0.6:9000"},
			check: func(c config.Config) bool {
				return c.InternalURL() == "http://10.0.0.6:9000" && c.NodeTimeout == 10*time.Second
			}},
		{name: "node timeout too short", args: []string{"--node-timeout", "100ms"}, wantErr: "--node-timeout"},
		{name: "node url not a base", args: []string{"--node-url", "10.0.0.5:8080"}, wantErr: "--node-url"},
		{name: "node url with a path", args: []string{"--node-url", "http://10.0.0.5:8080/attache"}, wantErr: "--node-url"},
		{name: "node id with a slash", env: map[string]string{"ATTACHE_NODE_ID": "a/b"}, wantErr: "--node-id"},
		{name: "turn short secret", args: []string{"--turn-udp", ":3478", "--turn-secret", "hunter2"}, wantErr: "too short"},
		{name: "turn relay ip", args: []string{"--turn-udp", ":3478", "--turn-relay-ip", "turn.example"}, wantErr: "--turn-relay-ip"},
		{name: "turn parts without turn", args: []string{"--turn-tcp", ":3478"}, wantErr: "need --turn-udp"},
		{name: "negative grace", args: []string{"--visit-grace", "-1m"}, wantErr: "--visit-grace"},
		{name: "opens days before", args: []string{"--visit-opens-before", "48h"}, wantErr: "--visit-opens-before"},
		{name: "smtp without port", args: []string{"--smtp", "mail.example.org", "--smtp-from", "a@example.org"}, wantErr: "--smtp"},
		{name: "smtp without sender", args: []string{"--smtp", "mail.example.org:587"}, wantErr: "--smtp-from"},
		{name: "smtp in clear off loopback", args: []string{"--smtp", "mail.example.org:25", "--smtp-from", "a@example.org", "--smtp-tls", "none"}, wantErr: "loopback"},
		{name: "smtp tls unknown", args: []string{"--smtp-tls", "maybe"}, wantErr: "--smtp-tls"},
		{name: "smtp user without password", args: []string{"--smtp-user", "attache"}, wantErr: "ATTACHE_SMTP_PASSWORD"},
		{name: "pdf font missing", args: []string{"--pdf-font", "/nonexistent/font.ttf"}, wantErr: "--pdf-font"},
		{name: "bad addr", args: []string{"--addr", "8080"}, wantErr: "--addr"},
		{name: "bad port", args: []string{"--addr", ":99999"}, wantErr: "port"},
		{name: "bad host", args: []string{"--addr", "some host:80"}, wantErr: "host"},
		{name: "bad database", args: []string{"--database", "mysql://root:hunter2@x/y"}, wantErr: "--database"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "--log-format"},
		{name: "bad log level in env", env: map[string]string{"ATTACHE_LOG_LEVEL": "loud"}, wantErr: "ATTACHE_LOG_LEVEL"},
		{name: "bad bool in env", env: map[string]string{"ATTACHE_DEMO": "perhaps"}, wantErr: "ATTACHE_DEMO"},
		{name: "cert without key", args: []string{"--tls-cert", file}, wantErr: "go together"},
		{name: "missing cert file", args: []string{"--tls-cert", filepath.Join(dir, "none"), "--tls-key", file}, wantErr: "cannot read"},
		{name: "cert and self-signed", args: []string{"--tls-cert", file, "--tls-key", file, "--tls-self-signed"}, wantErr: "exclude"},
		{name: "data is a file", args: []string{"--data", file}, wantErr: "is a file"},
		{name: "bad base url", args: []string{"--base-url", "localhost:8080"}, wantErr: "--base-url"},
		{name: "idle longer than max", args: []string{"--session-idle", "13h"}, wantErr: "cannot be longer"},
		{name: "unknown flag", args: []string{"--port", "80"}, wantErr: "not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := parse([]string{"--addr", "x", "--log-format", "xml"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--addr") || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("err = %v, want both problems", err)
	}
}
