package csc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"esign/signer"
)

// TestClassifyClientMistakes: an encrypted document signDoc cannot open
// is the client's mistake (400 with the reason), and a client that went
// away is recorded as client_closed (499), not as a server error.
func TestClassifyClientMistakes(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("open: %w", signer.ErrPasswordRequired), http.StatusBadRequest, codeInvalidRequest},
		{fmt.Errorf("open: %w", signer.ErrWrongPassword), http.StatusBadRequest, codeInvalidRequest},
		{fmt.Errorf("open: %w", signer.ErrPermissions), http.StatusBadRequest, codeInvalidRequest},
		{fmt.Errorf("sign: %w", context.Canceled), statusClientClosed, codeClientClosed},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, codeUnavailable},
		{errors.New("boom"), http.StatusInternalServerError, codeServerError},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			e := classify(tc.err)
			if e.Status != tc.status || e.Code != tc.code {
				t.Fatalf("classify(%v) = %d %s, want %d %s", tc.err, e.Status, e.Code, tc.status, tc.code)
			}
			if tc.status == http.StatusBadRequest && e.Description == "" {
				t.Error("no description")
			}
			if tc.status == http.StatusBadRequest && !errors.Is(tc.err, context.Canceled) {
				inner := errors.Unwrap(tc.err).Error()
				if !contains(e.Description, inner) {
					t.Errorf("description %q lacks %q", e.Description, inner)
				}
			}
			// fail answers it with the CSC error JSON.
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			fail(c, tc.err)
			if w.Code != tc.status {
				t.Errorf("fail answered %d, want %d", w.Code, tc.status)
			}
		})
	}
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }
