package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
)

func TestStatusOfGoneClient(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("wait for a slot: %w", context.Canceled), statusClientClosed, "client_closed"},
		{fmt.Errorf("sign: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, "timeout"},
		{fmt.Errorf("something else"), http.StatusInternalServerError, "internal"},
	} {
		if status, code := statusOf(tc.err); status != tc.status || code != tc.code {
			t.Errorf("statusOf(%v) = %d %s, want %d %s", tc.err, status, code, tc.status, tc.code)
		}
	}
}
