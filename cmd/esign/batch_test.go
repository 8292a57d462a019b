package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// esign batch is wired in: its usage errors are ours, its server errors
// come back with the server's code, and the key is never printed. The
// batch client itself is tested in package batchcli.
func TestBatchCommand(t *testing.T) {
	const key = "esk_cmd_SECRET_9a8b7c"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":{"code":"unauthenticated","message":"unknown API key"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		w.Write([]byte(`{"error":{"code":"not_found","message":"no such batch"}}`))
	}))
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
	env := map[string]string{"ESIGN_SERVER": srv.URL, "ESIGN_API_KEY_FILE": keyFile}
	getenv := func(k string) string { return env[k] }
	in := filepath.Join(t.TempDir(), "doc.pdf")
	os.WriteFile(in, []byte("%PDF-1.7\n"), 0o644)

	cases := []struct {
		name  string
		args  []string
		usage bool   // errUsage, with the usage text on stderr
		want  string // else in the error
	}{
		{"no subcommand", []string{"batch"}, true, ""},
		{"unknown subcommand", []string{"batch", "nope"}, true, ""},
		{"sign without signer", []string{"batch", "sign", "-level", "B-B", in}, true, ""},
		{"key as an argument", []string{"batch", "sign", "-signer", "s", "-level", "B-B", "-key", key, in}, true, ""},
		{"status of an unknown batch", []string{"batch", "status", "01JNONE"}, false, "not_found: no such batch (HTTP 404)"},
		{"cancel of an unknown batch", []string{"batch", "cancel", "01JNONE"}, false, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), c.args, &stdout, &stderr, getenv)
			switch {
			case err == nil:
				t.Fatal("no error")
			case c.usage:
				if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "usage: esign batch") {
					t.Errorf("error %v, stderr %q; want the usage", err, stderr.String())
				}
			case errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want):
				t.Errorf("error %v does not mention %q", err, c.want)
			}
			if strings.Contains(stdout.String()+stderr.String()+err.Error(), key) {
				t.Error("the API key was printed")
			}
		})
	}

	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &stdout, &stdout, getenv); err != nil || !strings.Contains(stdout.String(), "batch    sign many PDFs") {
		t.Errorf("esign help: %v\n%s", err, stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"batch", "help"}, &stdout, &stdout, getenv); err != nil || !strings.Contains(stdout.String(), "batch ID: signed S/T") {
		t.Errorf("esign batch help: %v\n%s", err, stdout.String())
	}
}
