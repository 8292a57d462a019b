package verify_test

import (
	"testing"

	"esign/signer"
	"esign/verify"
)

func TestOwnSignatureLevels(t *testing.T) {
	f := newFixture(t)
	in := corpus(t, "transcript-chromium.pdf")
	cred := f.env.Creds["dev-official"]
	for _, lvl := range []signer.Level{signer.LevelB, signer.LevelT, signer.LevelLT, signer.LevelLTA} {
		t.Run(string(lvl), func(t *testing.T) {
			data := sign(t, f.env.Signer, in, cred, signer.Options{Level: lvl})
			rep := run(t, data, f.offline())
			t.Log(dump(rep))
			_ = verify.TotalPassed
		})
	}
}
