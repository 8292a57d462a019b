package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsUnavailableIsFull(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("append audit entry: begin transaction: %w", err) }
	tests := []struct {
		name              string
		err               error
		unavailable, full bool
	}{
		{"nil", nil, false, false},
		{"not found", ErrNotFound, false, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false, false},
		{"admin shutdown", wrap(&pgconn.PgError{Code: "57P01"}), true, false},
		{"starting up", wrap(&pgconn.PgError{Code: "57P03"}), true, false},
		{"connection failure", wrap(&pgconn.PgError{Code: "08006"}), true, false},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true, false},
		{"PostgreSQL disk full", wrap(&pgconn.PgError{Code: "53100"}), false, true},
		{"refused", wrap(syscall.ECONNREFUSED), true, false},
		{"reset", wrap(syscall.ECONNRESET), true, false},
		{"broken pipe", wrap(syscall.EPIPE), true, false},
		{"bad connection", wrap(driver.ErrBadConn), true, false},
		{"no space", wrap(syscall.ENOSPC), false, true},
		{"other", errors.New("syntax error"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsUnavailable(tt.err); got != tt.unavailable {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.unavailable)
			}
			if got := IsFull(tt.err); got != tt.full {
				t.Errorf("IsFull(%v) = %v, want %v", tt.err, got, tt.full)
			}
		})
	}
}
