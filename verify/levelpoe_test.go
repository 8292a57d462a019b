package verify_test

import (
	"testing"

	"esign/signer"
	"esign/verify"
)

// TestLevelNeedsValidDocTimestamp: a document timestamp raises a B-B
// signature to B-T (and on) only when it gives proof of existence: one
// whose token does not match what it covers proves nothing.
func TestLevelNeedsValidDocTimestamp(t *testing.T) {
	f := newFixture(t)
	bb := sign(t, f.env.Signer, corpus(t, "memo-chromium.pdf"), f.env.Creds["dev-official"], signer.Options{Level: signer.LevelB})
	good := f.extendWith(t, f.env.TSAClient(), bb)
	rep := run(t, good, f.offline())
	checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelLTA})

	wrong := map[int]bool{}
	for i := 1; i <= 8; i++ {
		wrong[i] = true
	}
	bad := f.extendWith(t, &skewedTSA{tsa: f.env.TSAClient(), wrong: wrong}, bb)
	rep = run(t, bad, f.offline())
	ts := docTimestamps(rep)
	if len(ts) == 0 {
		t.Fatalf("no document timestamp:\n%s", dump(rep))
	}
	for _, d := range ts {
		if d.Indication != verify.TotalFailed {
			t.Fatalf("the skewed document timestamp %s did not fail:\n%s", d.Field, dump(rep))
		}
	}
	if s := rep.Signatures[0]; s.Level != verify.LevelB {
		t.Errorf("level %s with a failed document timestamp, want %s", s.Level, verify.LevelB)
	}
}
