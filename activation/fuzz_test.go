package activation_test

import (
	"testing"
	"time"

	"esign/activation"
)

// FuzzTOTPVerify feeds arbitrary codes, as a request's activation field
// would: Verify must never panic, and accepts only the code of a step
// within the window.
func FuzzTOTPVerify(f *testing.F) {
	f.Add("287082", int64(59))
	f.Add("", int64(0))
	f.Add("99999999999999999999", int64(-1))
	f.Add("１２３４５６", int64(1_800_000_000))
	f.Fuzz(func(t *testing.T, code string, unix int64) {
		if unix < -1<<40 || unix > 1<<40 {
			return
		}
		p := activation.TOTP{}
		now := time.Unix(unix, 0)
		step, ok := p.Verify(seedSHA1, code, now, 0)
		if !ok {
			return
		}
		want, err := p.Code(seedSHA1, step)
		if err != nil || want != code {
			t.Fatalf("accepted %q for step %d whose code is %q", code, step, want)
		}
		if d := step - p.Step(now); d < -1 || d > 1 || step <= 0 {
			t.Fatalf("accepted step %d, %d steps from now", step, d)
		}
	})
}
